import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { watchDockerEngine } from '../../../daemon/firewall/docker-engine-watch.js';

/** An engine's events endpoint on a unix socket: holds each stream open, sends what it is told. */
function engine(socketPath: string): Promise<{ server: Server; streams: ServerResponse[]; paths: string[]; close: () => Promise<void> }> {
  const streams: ServerResponse[] = [];
  const paths: string[] = [];
  const server = createServer((req, res) => {
    paths.push(req.url ?? '');
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.flushHeaders();
    streams.push(res);
  });
  return new Promise((resolve) =>
    server.listen(socketPath, () =>
      resolve({
        server,
        streams,
        paths,
        close: () =>
          new Promise((r) => {
            for (const s of streams) s.destroy();
            server.close(() => r());
          }),
      }),
    ),
  );
}

const until = async (check: () => boolean, ms = 5000) => {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
};

test('an engine that appears counts as started; network events are reported; an engine restart is noticed again', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-engine-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const socket = join(dir, 'docker.sock');
  let ups = 0;
  let events = 0;
  const watch = watchDockerEngine(socket, { up: () => ups++, networkEvent: () => events++ });
  t.teardown(() => watch.stop());

  await new Promise((r) => setTimeout(r, 200));
  t.is(ups, 0, 'no engine, no start');
  const first = await engine(socket);
  await until(() => ups === 1);
  t.regex(decodeURIComponent(first.paths[0]!), /^\/events\?filters=\{"type":\["network"\]/);
  first.streams[0]!.write('{"Type":"network","Action":"create"}\n');
  await until(() => events === 1);
  await first.close();
  rmSync(socket, { force: true });

  const second = await engine(socket);
  await until(() => ups === 2, 8000);
  watch.stop();
  await second.close();
  t.pass();
});
