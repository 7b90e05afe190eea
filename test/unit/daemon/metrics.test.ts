import test from 'ava';
import { Metrics, formatLabels } from '../../../daemon/metrics.js';

test('Metrics: counters per outcome, a cumulative histogram, gauges read at scrape time', async (t) => {
  const m = new Metrics();
  m.observeRequest('docker', 'NetworkDriver.Join', true, 0.003);
  m.observeRequest('docker', 'NetworkDriver.Join', true, 0.2);
  m.observeRequest('docker', 'NetworkDriver.Join', false, 20);
  let networks = 2;
  m.gauge('berth_networks', 'Networks.', async () => [{ labels: { driver: 'bridge' }, value: networks }]);
  networks = 3;
  const text = await m.render();
  t.true(text.includes('berth_requests_total{api="docker",call="NetworkDriver.Join",outcome="ok"} 2\n'));
  t.true(text.includes('berth_requests_total{api="docker",call="NetworkDriver.Join",outcome="error"} 1\n'));
  t.true(text.includes('berth_request_duration_seconds_bucket{api="docker",call="NetworkDriver.Join",le="0.0025"} 0\n'));
  t.true(text.includes('berth_request_duration_seconds_bucket{api="docker",call="NetworkDriver.Join",le="0.005"} 1\n'));
  t.true(text.includes('berth_request_duration_seconds_bucket{api="docker",call="NetworkDriver.Join",le="0.25"} 2\n'));
  t.true(text.includes('berth_request_duration_seconds_bucket{api="docker",call="NetworkDriver.Join",le="+Inf"} 3\n'));
  t.true(text.includes('berth_request_duration_seconds_count{api="docker",call="NetworkDriver.Join"} 3\n'));
  t.true(text.includes('# TYPE berth_networks gauge\nberth_networks{driver="bridge"} 3\n'));
  t.true(text.endsWith('\n'));
  // Every sample line is `name{labels} value`.
  for (const line of text.split('\n').filter((l) => l && !l.startsWith('#'))) t.regex(line, /^[a-z_]+(\{[^}]*\})? [0-9.e+-]+$/, line);
});

test('formatLabels: escapes backslash, quote and newline', (t) => {
  t.is(formatLabels({ a: 'x"y\\z\nw' }), '{a="x\\"y\\\\z\\nw"}');
  t.is(formatLabels({}), '');
});
