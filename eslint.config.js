// Lint, with ARCHITECTURE.md's "may import" table enforced: a layer crossing fails the lint.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** Which berth folders each folder may import (ARCHITECTURE.md, "Folders"). */
const mayImport = {
  core: [],
  store: ['core'],
  ipam: ['core', 'store'],
  dataplane: ['core'],
  winnat: ['core', 'dataplane'],
  drivers: ['core', 'store', 'ipam', 'dataplane', 'winnat'],
  policy: ['core', 'store', 'dataplane'],
  cni: ['core', 'drivers', 'ipam'],
  daemon: ['core', 'store', 'ipam', 'dataplane', 'drivers', 'winnat', 'policy', 'cni'],
  cli: ['core', 'store', 'ipam', 'dataplane', 'drivers', 'winnat', 'policy', 'cni', 'daemon'],
  labs: ['core', 'store', 'ipam', 'dataplane', 'drivers', 'winnat', 'policy', 'cni', 'daemon', 'cli'],
};
const layers = Object.keys(mayImport);

/** Heavy or process-spawning modules that the hot path must never load. */
const noSpawn = {
  name: 'node:child_process',
  message: 'The dataplane never spawns ip/nft/iptables/sysctl; only labs/ and test/ may use child processes.',
};

function layerRules(layer) {
  const forbidden = layers.filter((l) => l !== layer && !mayImport[layer].includes(l));
  const patterns = forbidden.map((l) => ({
    group: [`**/${l}/*`, `**/${l}/**`, `../${l}`, `../../${l}`],
    message: `${layer}/ may not import ${l}/ (ARCHITECTURE.md layering: ${layer}/ may import ${mayImport[layer].join(', ') || 'nothing of berth'}).`,
  }));
  const paths = ['labs', 'cli'].includes(layer) ? [] : [noSpawn, { name: 'child_process', message: noSpawn.message }];
  const spawning = ['labs', 'cli'].includes(layer)
    ? []
    : [{ object: 'process', property: 'getBuiltinModule', message: 'A lazy load of a built-in module is how child_process would slip past the import rule: import what you need.' }];
  return {
    files: [`${layer}/**/*.ts`],
    rules: { 'no-restricted-imports': ['error', { patterns, paths }], 'no-restricted-properties': ['error', ...spawning] },
  };
}

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '.bench/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  ...layers.map(layerRules),
  {
    // iptables-legacy keeps its rules in x_tables, which only its own tool writes; used on a
    // network change or a re-check, never per pod (dataplane/linux/firewall/iptables-legacy.ts).
    files: ['dataplane/linux/firewall/iptables-legacy.ts'],
    rules: { 'no-restricted-properties': 'off' },
  },
  {
    // CNI delegation (running the IPAM plugin named in `ipam.type`) is part of the protocol.
    files: ['cni/delegate.ts'],
    rules: { 'no-restricted-imports': 'off' },
  },
  {
    files: ['scripts/**/*.mjs', 'eslint.config.js', 'bench/**/*.mjs'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly' } },
  },
);
