// Build: type-check and compile everything into dist/ (tests run from there), then bundle
// each executable into one file in dist/bin/. A CNI plugin is a new process per pod: one
// CommonJS file with no module resolution is the cheapest thing Node can start.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { executableOptions } from './bundle-options.mjs';

const entries = {
  'berth-ipam': 'cni/bin/berth-ipam.ts',
  berth: 'cli/bin/berth.ts',
  // The node agent: it may load anything heavy (gRPC, winston); the plugins never do.
  berthd: 'daemon/bin/berthd.ts',
};

execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', '.'], { stdio: 'inherit' });

// One CNI plugin per driver of the catalog (drivers/catalog.ts), with the entry's facts and
// only its own driver's module built in.
const { CATALOG, IPAM_PLUGIN } = await import('../dist/drivers/catalog.js');
const driverPlugins = Object.fromEntries(
  CATALOG.map(({ load: _load, ...facts }) => [
    facts.plugin,
    {
      contents: [
        "import { runDriverPlugin } from './cni/bin/driver-plugin-main.ts';",
        `import { driverModule } from './drivers/${facts.name}/module.ts';`,
        `runDriverPlugin(${JSON.stringify(facts)}, driverModule);`,
      ].join('\n'),
      resolveDir: resolve('.'),
      sourcefile: `${facts.plugin}.ts`,
      loader: 'ts',
    },
  ]),
);
/**
 * Plugins: `dist/bin/NAME` is the native shim (cni/shim) that hands requests to berthd;
 * `dist/bin/NAME-node` the in-process plugin it falls back to, which starts through the
 * code-cache launcher (cni/launcher.ts) with its bundle beside it.
 */
const plugins = [...Object.keys(driverPlugins), IPAM_PLUGIN];

mkdirSync('dist/bin', { recursive: true });
// The bundles are CommonJS; this keeps Node from reading them as ES modules.
writeFileSync('dist/bin/package.json', '{"type":"commonjs"}\n');
await Promise.all([
  ...Object.entries(entries).map(async ([name, entry]) => {
    const outfile = plugins.includes(name) ? `dist/bin/${name}.bundle.cjs` : `dist/bin/${name}`;
    await build(executableOptions(entry, outfile));
    chmodSync(outfile, 0o755);
  }),
  ...Object.entries(driverPlugins).map(async ([name, stdin]) => {
    const outfile = `dist/bin/${name}.bundle.cjs`;
    const { entryPoints: _entry, ...options } = executableOptions(undefined, outfile);
    await build({ ...options, stdin });
    chmodSync(outfile, 0o755);
  }),
]);
await build({
  entryPoints: ['cni/launcher.ts'],
  outfile: 'dist/bin/launcher.cjs',
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node22',
  legalComments: 'none',
  logLevel: 'warning',
});
const launcher = readFileSync('dist/bin/launcher.cjs', 'utf8');
for (const name of plugins) {
  // The in-process plugin, run from the build tree (its bundle is found next to it): what the
  // shim falls back to when berthd is not running.
  const text = `#!/usr/bin/env node\nvar __berthBundle = require('node:path').join(__dirname, ${JSON.stringify(`${name}.bundle.cjs`)});\nglobalThis.__berthHome ??= require('node:path').join(__dirname, '..', '..');\n${launcher}`;
  writeFileSync(`dist/bin/${name}-node`, text, { mode: 0o755 });
  chmodSync(`dist/bin/${name}-node`, 0o755);
}

// The native plugin shim (cni/shim): built once as a template, then one copy per plugin with
// its settings written in (the same thing `berth install` writes into a CNI bin directory).
execFileSync('bash', ['cni/shim/build.sh', resolve('dist/bin/cni-shim')], { stdio: 'inherit' });
const { withShimSettings } = await import('../dist/cni/shim-settings.js');
const template = readFileSync('dist/bin/cni-shim');
for (const name of plugins) {
  const shim = withShimSettings(template, { plugin: name, socket: '/run/berth/cni.sock', node: process.execPath, launcher: resolve(`dist/bin/${name}-node`) });
  writeFileSync(`dist/bin/${name}`, shim, { mode: 0o755 });
  chmodSync(`dist/bin/${name}`, 0o755);
}
console.log(`built dist/ and dist/bin/{${[...plugins, 'berth', 'berthd'].join(',')}}`);
