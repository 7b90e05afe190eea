/**
 * Prometheus metrics in the text exposition format (version 0.0.4), written here rather than
 * pulled in: berthd needs counters, one histogram and gauges read at scrape time, which is a
 * page of code.
 *
 *   berth_requests_total{api,call,outcome}          counter   requests served, by outcome (ok|error)
 *   berth_request_duration_seconds{api,call}        histogram time to serve a request
 *   berth_networks{driver}                          gauge     networks berthd manages
 *   berth_endpoints{driver}                         gauge     endpoints of those networks
 *   berth_ipam_pools                                gauge     Docker IPAM pools reserved
 *   berth_up, berth_start_time_seconds              gauge     process facts
 */

/** Label values by label name. */
export type Labels = Readonly<Record<string, string>>;

/** Upper bounds of the latency histogram, in seconds: 0.5 ms to 10 s. */
const BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

interface HistogramState {
  readonly counts: number[];
  sum: number;
  count: number;
}

/** A gauge's values, computed when scraped. */
export type GaugeCollector = () => Promise<readonly { readonly labels: Labels; readonly value: number }[]>;

interface GaugeDef {
  readonly name: string;
  readonly help: string;
  readonly collect: GaugeCollector;
}

export class Metrics {
  private readonly requests = new Map<string, { labels: Labels; value: number }>();
  private readonly durations = new Map<string, { labels: Labels; state: HistogramState }>();
  private readonly gauges: GaugeDef[] = [];

  /** Counts one request and its duration. `api` is `docker` or `grpc`, `call` the method. */
  observeRequest(api: string, call: string, ok: boolean, seconds: number): void {
    const counterLabels = { api, call, outcome: ok ? 'ok' : 'error' };
    const ck = keyOf(counterLabels);
    const c = this.requests.get(ck) ?? { labels: counterLabels, value: 0 };
    c.value++;
    this.requests.set(ck, c);

    const histLabels = { api, call };
    const hk = keyOf(histLabels);
    let h = this.durations.get(hk);
    if (!h) {
      h = { labels: histLabels, state: { counts: BUCKETS.map(() => 0), sum: 0, count: 0 } };
      this.durations.set(hk, h);
    }
    BUCKETS.forEach((le, i) => {
      if (seconds <= le) h.state.counts[i]!++;
    });
    h.state.sum += seconds;
    h.state.count++;
  }

  /** Registers a gauge whose values are computed at each scrape. */
  gauge(name: string, help: string, collect: GaugeCollector): void {
    this.gauges.push({ name, help, collect });
  }

  /** The text exposition of every metric. */
  async render(): Promise<string> {
    const lines: string[] = [];
    lines.push('# HELP berth_requests_total Requests served by berthd, by API, call and outcome.', '# TYPE berth_requests_total counter');
    for (const { labels, value } of sorted(this.requests)) lines.push(`berth_requests_total${formatLabels(labels)} ${value}`);
    lines.push('# HELP berth_request_duration_seconds Time berthd took to serve a request.', '# TYPE berth_request_duration_seconds histogram');
    for (const { labels, state } of sorted(this.durations)) {
      BUCKETS.forEach((le, i) => lines.push(`berth_request_duration_seconds_bucket${formatLabels({ ...labels, le: String(le) })} ${state.counts[i]}`));
      lines.push(`berth_request_duration_seconds_bucket${formatLabels({ ...labels, le: '+Inf' })} ${state.count}`);
      lines.push(`berth_request_duration_seconds_sum${formatLabels(labels)} ${state.sum}`);
      lines.push(`berth_request_duration_seconds_count${formatLabels(labels)} ${state.count}`);
    }
    for (const g of this.gauges) {
      lines.push(`# HELP ${g.name} ${g.help}`, `# TYPE ${g.name} gauge`);
      for (const { labels, value } of await g.collect()) lines.push(`${g.name}${formatLabels(labels)} ${value}`);
    }
    return `${lines.join('\n')}\n`;
  }
}

function keyOf(labels: Labels): string {
  return JSON.stringify(Object.entries(labels));
}

function sorted<T>(map: Map<string, T>): T[] {
  return [...map.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, v]) => v);
}

/** `{a="x",b="y"}`, with `\`, `"` and newlines escaped as the format requires. */
export function formatLabels(labels: Labels): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
}
