/**
 * A full garbage collection in a running berthd, asked for through the V8 inspector, and the heap
 * it leaves. The RSS benchmark starts berthd with `--inspect` on the loopback of its own private
 * namespace and collects before each reading, so every reading is taken in the same collector
 * state: without it, a settled RSS still says how far the heap had grown when the work stopped
 * (one run: 106, 96.5, 101 MiB after three equal rounds, with 16.1 MiB live after each).
 */

/** The inspector's port in the bench's private namespace (nothing else listens there). */
export const INSPECTOR_PORT = 9229;

interface InspectorTarget {
  readonly webSocketDebuggerUrl: string;
}

/** Runs a full collection in berthd; resolves to its V8 heap in use afterwards, in MiB. */
export async function collectGarbage(port = INSPECTOR_PORT): Promise<number> {
  const targets = (await (await fetch(`http://127.0.0.1:${port}/json/list`)).json()) as InspectorTarget[];
  const url = targets[0]?.webSocketDebuggerUrl;
  if (!url) throw new Error(`berthd's inspector on port ${port} lists no target`);
  const socket = new WebSocket(url);
  await new Promise<void>((resolve, reject) => {
    socket.addEventListener('open', () => resolve(), { once: true });
    socket.addEventListener('error', () => reject(new Error(`cannot reach berthd's inspector at ${url}`)), { once: true });
  });
  // One call at a time: the answer to wait for, and what ends it if the inspector goes away.
  let pending: { resolve: (result: unknown) => void; reject: (err: Error) => void } | undefined;
  socket.addEventListener('message', (event) => {
    const message = JSON.parse(String(event.data)) as { id?: number; result?: unknown };
    if (message.id !== undefined) pending?.resolve(message.result);
  });
  socket.addEventListener('close', () => pending?.reject(new Error(`berthd's inspector at ${url} closed the connection`)));
  let nextId = 1;
  const call = (method: string, params: object = {}): Promise<unknown> =>
    new Promise((resolve, reject) => {
      pending = { resolve, reject };
      socket.send(JSON.stringify({ id: nextId++, method, params }));
    });
  try {
    await call('HeapProfiler.collectGarbage');
    const evaluated = (await call('Runtime.evaluate', { expression: 'process.memoryUsage().heapUsed', returnByValue: true })) as {
      result: { value: number };
    };
    return evaluated.result.value / 2 ** 20;
  } finally {
    socket.close();
  }
}
