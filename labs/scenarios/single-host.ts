/**
 * single-host: Docker's default bridge and two user networks of berth-bridge. Containers on
 * one network reach each other; the networks are firewalled from each other by default; a
 * container on both networks reaches both.
 */
import { DockerHost, IMAGE } from '../framework/docker-host.js';
import type { LabDefinition } from '../framework/lab.js';
import type { StepRecord } from '../framework/report.js';

const SLEEP = [IMAGE, 'sleep', '1d'];

export const singleHostLab: LabDefinition = {
  name: 'single-host',
  purpose: 'the default bridge and two user networks: one network reaches itself, networks are firewalled apart, a container on both reaches both',
  async run(ctx) {
    const host = await DockerHost.start(ctx, { defaultBridge: true });
    const ls = await host.docker(['network', 'ls', '--format', '{{.Name}} {{.Driver}}'], "A stock engine: Docker's default network, bridge (docker0).");
    ls.check('the default bridge network is there', /^bridge bridge$/m.test(ls.stdout), ls.stdout.trim().replaceAll('\n', ', '));
    (await host.run('d1', SLEEP, 'A container without --network goes on the default bridge.')).succeeded('d1 runs on the default bridge');
    const d1 = await host.ip('d1', 'bridge');
    const br = await ctx.sh(['ip', '-br', 'addr', 'show', 'docker0']);
    br.check("d1's address is on docker0's subnet", d1 !== '' && br.stdout.includes(`${d1.split('.').slice(0, 2).join('.')}.`), `d1 is ${d1 || 'without an address'}`);

    for (const [name, subnet] of [
      ['front', '10.31.1.0/24'],
      ['back', '10.31.2.0/24'],
    ] as const)
      (await host.docker(['network', 'create', '-d', 'berth-bridge', '--subnet', subnet, name], name === 'front' ? 'Two user networks, each its own bridge.' : undefined)).succeeded(
        `${name} is created`,
      );
    (await host.run('f1', ['--network', 'front', ...SLEEP], 'f1 and f2 on front, b1 on back.')).succeeded('f1 runs');
    (await host.run('f2', ['--network', 'front', ...SLEEP])).succeeded('f2 runs');
    (await host.run('b1', ['--network', 'back', ...SLEEP])).succeeded('b1 runs');
    (await host.run('both', ['--network', 'front', ...SLEEP], '"both" starts on front and is connected to back too.')).succeeded('both runs');
    (await host.docker(['network', 'connect', 'back', 'both'])).succeeded('both is connected to back');
    const ip = {
      f1: await host.ip('f1', 'front'),
      f2: await host.ip('f2', 'front'),
      b1: await host.ip('b1', 'back'),
    };

    if (ctx.sabotage) await ctx.sh(['nft', 'flush', 'ruleset'], 'Sabotage (test only): every nftables rule is gone, the isolation with them.');
    const ping = (from: string, to: string, note?: string): Promise<StepRecord> => host.docker(['exec', from, 'ping', '-c', '1', '-W', '1', to], note);
    const reaches = (s: StepRecord, what: string) => s.check(what, s.code === 0, s.code === 0 ? 'answered' : 'no answer');
    const blocked = (s: StepRecord, what: string) => s.check(what, s.code !== 0, s.code !== 0 ? 'no answer: the networks are isolated' : 'it answered');
    reaches(await ping('f1', ip.f2, 'On one network, containers reach each other.'), 'f1 reaches f2 on front');
    blocked(await ping('f1', ip.b1, 'Between networks, nothing passes by default (berth isolates its networks).'), 'f1 does not reach b1 on back');
    blocked(await ping('b1', ip.f1), 'b1 does not reach f1 on front');
    const both = await host.docker(['exec', 'both', 'ip', '-o', '-4', 'addr'], 'A container on two networks has an interface on each...');
    both.check('"both" has an address on each network', /10\.31\.1\.\d+/.test(both.stdout) && /10\.31\.2\.\d+/.test(both.stdout), both.stdout.match(/10\.31\.\d+\.\d+\/\d+/g)?.join(', ') ?? 'none');
    reaches(await ping('both', ip.f1, '...and reaches both.'), 'both reaches f1 on front');
    reaches(await ping('both', ip.b1), 'both reaches b1 on back');
    return {};
  },
};
