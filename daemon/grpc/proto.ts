/**
 * Loads berth's .proto (proto/berth/v1/berth.proto) for the server and the client. The file
 * is read at run time from the package: found by walking up from this module, which works
 * from the compiled tree (dist/daemon/grpc) and from the bundles (dist/bin) alike.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { IoError } from '../../core/errors.js';

const RELATIVE = join('proto', 'berth', 'v1', 'berth.proto');

/** The path of berth.proto; BERTH_PROTO_DIR overrides the search. */
export function protoPath(): string {
  const override = process.env.BERTH_PROTO_DIR;
  if (override) return join(override, 'berth', 'v1', 'berth.proto');
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 8; i++) {
    const candidate = join(dir, RELATIVE);
    if (existsSync(candidate)) return candidate;
    dir = dirname(dir);
  }
  throw new IoError(`Cannot find ${RELATIVE} above ${dirname(fileURLToPath(import.meta.url))}: berth's package is incomplete`, { operation: `stat ${RELATIVE}` });
}

/** The `berth.v1.Berth` service definition and client constructor. */
export function loadBerthService(): { service: grpc.ServiceDefinition; Client: grpc.ServiceClientConstructor } {
  const definition = protoLoader.loadSync(protoPath(), { keepCase: false, longs: Number, enums: String, defaults: true, arrays: true, objects: true });
  const pkg = grpc.loadPackageDefinition(definition) as unknown as { berth: { v1: { Berth: grpc.ServiceClientConstructor } } };
  const Client = pkg.berth.v1.Berth;
  return { service: Client.service, Client };
}

/** Metadata key carrying berth's error code next to the gRPC status. */
export const ERROR_CODE_KEY = 'berth-error-code';
