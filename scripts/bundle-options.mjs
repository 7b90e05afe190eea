// esbuild options of berth's executables, shared by scripts/build.mjs and the tests that check
// what a bundle loads (test/unit/daemon/kube-source.test.ts bundles with exactly these).

/**
 * Loaded at run time from berth's node_modules, never bundled: koffi's native module; winston
 * (plugins: only on the error/log path); gRPC; and @kubernetes/client-node, which berthd
 * imports with import() only when given --kubeconfig (~0.7 s to load, so never otherwise); etcd3,
 * which reads its .proto files next to itself and is loaded only when a cluster store is opened.
 */
export const EXTERNAL = ['koffi', 'winston', '@grpc/grpc-js', '@grpc/proto-loader', '@kubernetes/client-node', 'etcd3'];

/** One executable: a single CommonJS file for Node 22 or later. */
export function executableOptions(entry, outfile) {
  return {
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node22',
    external: EXTERNAL,
    // import.meta.url only exists in ES modules; computed on demand because pathToFileURL
    // costs ~5 ms on first use and the plugins' hot path never needs it.
    define: { 'import.meta.url': '__berthMeta.url' },
    banner: { js: "#!/usr/bin/env node\nvar __berthMeta = { get url() { return require('node:url').pathToFileURL(__filename).href; } };" },
    legalComments: 'none',
    sourcemap: false,
    logLevel: 'warning',
  };
}
