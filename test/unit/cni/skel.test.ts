import test from 'ava';
import { runPlugin, type CniRequest, type PluginHandlers, type PluginIo } from '../../../cni/skel.js';

function io(env: Record<string, string>, stdin: string) {
  const out: string[] = [];
  const err: string[] = [];
  const pio: PluginIo = { env, readStdin: () => Buffer.from(stdin), writeStdout: (s) => out.push(s), writeStderr: (s) => err.push(s) };
  return { pio, out, err, json: () => JSON.parse(out.join('')) as Record<string, unknown> };
}

function handlers(seen: CniRequest[] = []): PluginHandlers {
  return {
    name: 'test-plugin',
    about: 'test plugin',
    add: async (req) => {
      seen.push(req);
      return { ips: [{ address: '10.0.0.2/24', interface: 0 }], interfaces: [{ name: 'eth0', sandbox: req.netns }] };
    },
    del: async (req) => void seen.push(req),
    check: async (req) => void seen.push(req),
    status: async (req) => void seen.push(req),
    gc: async (req) => void seen.push(req),
  };
}

const conf = (v = '1.1.0', extra: object = {}) => JSON.stringify({ cniVersion: v, name: 'net1', type: 'berth-bridge', ...extra });
const addEnv = { CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'c1', CNI_NETNS: '/run/netns/x', CNI_IFNAME: 'eth0', CNI_PATH: '/opt/cni/bin' };

test('VERSION echoes the requested version and lists all', async (t) => {
  const x = io({ CNI_COMMAND: 'VERSION' }, '{"cniVersion":"0.4.0"}');
  t.is(await runPlugin(handlers(), x.pio), 0);
  t.deepEqual(x.json(), { cniVersion: '0.4.0', supportedVersions: ['0.1.0', '0.2.0', '0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] });
});

test('VERSION with libcni probe values needs nothing else', async (t) => {
  const x = io({ CNI_COMMAND: 'VERSION', CNI_NETNS: 'dummy', CNI_IFNAME: 'dummy', CNI_PATH: 'dummy' }, '');
  t.is(await runPlugin(handlers(), x.pio), 0);
  t.is(x.json().cniVersion, '1.1.0');
});

test('ADD renders the result in the requested version', async (t) => {
  const x = io(addEnv, conf('0.3.1'));
  t.is(await runPlugin(handlers(), x.pio), 0);
  const r = x.json() as { cniVersion: string; ips: { version: string }[] };
  t.is(r.cniVersion, '0.3.1');
  t.is(r.ips[0]!.version, '4');
});

const errorCases: [string, Record<string, string>, string, number, RegExp][] = [
  ['malformed JSON', addEnv, '{"cniVersion": ', 6, /Cannot parse/],
  ['unsupported version', addEnv, conf('9.9.9'), 1, /incompatible CNI versions/],
  ['malformed version', addEnv, conf('one'), 1, /Invalid CNI version/],
  ['missing CNI_NETNS', { ...addEnv, CNI_NETNS: '' }, conf(), 4, /CNI_NETNS/],
  ['missing CNI_CONTAINERID and CNI_IFNAME', { CNI_COMMAND: 'ADD', CNI_NETNS: '/x' }, conf(), 4, /CNI_CONTAINERID CNI_IFNAME/],
  ['unknown command', { ...addEnv, CNI_COMMAND: 'FROB' }, conf(), 4, /unknown CNI_COMMAND: FROB/],
  ['missing command', {}, conf(), 4, /CNI_COMMAND/],
  ['bad ifname', { ...addEnv, CNI_IFNAME: 'a/b' }, conf(), 4, /CNI_IFNAME/],
  ['long ifname', { ...addEnv, CNI_IFNAME: 'abcdefghijklmnop' }, conf(), 4, /15 bytes/],
  ['bad container id', { ...addEnv, CNI_CONTAINERID: '-x' }, conf(), 4, /CNI_CONTAINERID/],
  ['bad network name', addEnv, JSON.stringify({ cniVersion: '1.0.0', name: 'a b', type: 'x' }), 7, /network name/],
  ['CHECK on 0.3.1', { ...addEnv, CNI_COMMAND: 'CHECK' }, conf('0.3.1'), 1, /CHECK/],
  ['GC on 1.0.0', { CNI_COMMAND: 'GC', CNI_PATH: '/x' }, conf('1.0.0'), 1, /GC/],
  ['ADD into the own netns', { ...addEnv, CNI_NETNS: '/proc/self/ns/net' }, conf(), 8, /own network namespace/],
];

for (const [name, env, stdin, code, msg] of errorCases) {
  test(`error: ${name} gives code ${code}`, async (t) => {
    const seen: CniRequest[] = [];
    const x = io(env, stdin);
    t.not(await runPlugin(handlers(seen), x.pio), 0);
    const e = x.json() as { code: number; msg: string };
    t.is(e.code, code);
    t.regex(e.msg, msg);
    t.is(seen.length, 0, 'the handler never ran');
  });
}

test('GC passes valid attachments from either key', async (t) => {
  for (const key of ['cni.dev/valid-attachments', 'cni.dev/attachments']) {
    const seen: CniRequest[] = [];
    const x = io({ CNI_COMMAND: 'GC', CNI_PATH: '/x' }, conf('1.1.0', { [key]: [{ containerID: 'c9', ifname: 'eth0' }] }));
    t.is(await runPlugin(handlers(seen), x.pio), 0);
    t.deepEqual(seen[0]!.validAttachments, [{ containerId: 'c9', ifname: 'eth0' }]);
  }
});

test('DEL without CNI_NETNS is allowed', async (t) => {
  const seen: CniRequest[] = [];
  const x = io({ CNI_COMMAND: 'DEL', CNI_CONTAINERID: 'c1', CNI_IFNAME: 'eth0' }, conf());
  t.is(await runPlugin(handlers(seen), x.pio), 0);
  t.is(seen[0]!.netns, '');
  t.is(x.out.join(''), '');
});

test('prevResult of an older version is read', async (t) => {
  const seen: CniRequest[] = [];
  const prev = { cniVersion: '0.3.1', ips: [{ version: '4', address: '10.0.0.5/24', interface: 0 }], interfaces: [{ name: 'eth0', sandbox: '/x' }] };
  const x = io({ ...addEnv, CNI_COMMAND: 'CHECK' }, conf('1.0.0', { prevResult: prev }));
  t.is(await runPlugin(handlers(seen), x.pio), 0);
  t.is(seen[0]!.prevResult?.ips?.[0]?.address, '10.0.0.5/24');
});

test('CNI_ARGS are parsed', async (t) => {
  const seen: CniRequest[] = [];
  const x = io({ ...addEnv, CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-0' }, conf());
  t.is(await runPlugin(handlers(seen), x.pio), 0);
  t.is(seen[0]!.args.get('K8S_POD_NAME'), 'web-0');
});
