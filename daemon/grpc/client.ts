/**
 * The client side of berthd's API, for the CLI: promise-returning calls that turn gRPC
 * failures back into berth errors (the code from metadata), and an unreachable berthd into a
 * NotAvailableError that says where it looked.
 */
import * as grpc from '@grpc/grpc-js';
import { BerthError, NotAvailableError, type ErrorCode } from '../../core/errors.js';
import type {
  ApplyPoliciesMessage,
  ApplyPoliciesReply,
  CreateNetworkMessage,
  DeletePoliciesMessage,
  DeletePoliciesReply,
  ListNatMessage,
  ListPoliciesReply,
  NetworkMessage,
  StatusMessage,
} from './messages.js';
import { ERROR_CODE_KEY, loadBerthService } from './proto.js';

/** Where the CLI finds berthd unless told otherwise (`--host`, `BERTH_HOST`). */
export const DEFAULT_API_SOCKET = '/run/berth/berthd.sock';

export interface BerthClient {
  createNetwork(req: CreateNetworkMessage): Promise<NetworkMessage>;
  listNetworks(): Promise<NetworkMessage[]>;
  inspectNetwork(network: string): Promise<NetworkMessage>;
  deleteNetwork(network: string): Promise<string>;
  status(): Promise<StatusMessage>;
  listNat(): Promise<ListNatMessage>;
  applyPolicies(req: ApplyPoliciesMessage): Promise<ApplyPoliciesReply>;
  deletePolicies(req: DeletePoliciesMessage): Promise<DeletePoliciesReply>;
  listPolicies(): Promise<ListPoliciesReply>;
  close(): void;
}

/** A client of the berthd listening on `socketPath`; connects on the first call. */
export function connectApi(socketPath: string, opts: { readonly timeoutMs?: number } = {}): BerthClient {
  const { Client } = loadBerthService();
  const client = new Client(`unix:${socketPath}`, grpc.credentials.createInsecure());
  const timeout = opts.timeoutMs ?? 30_000;
  const call = <Res>(method: string, request: object): Promise<Res> =>
    new Promise((resolve, reject) => {
      const fn = (client as unknown as Record<string, ((...args: unknown[]) => void) | undefined>)[method];
      if (!fn) return reject(new BerthError('internal', `The API has no method ${method}`));
      fn.call(client, request, { deadline: Date.now() + timeout }, (err: grpc.ServiceError | null, reply: Res) => (err ? reject(fromGrpc(err, socketPath)) : resolve(reply)));
    });
  return {
    createNetwork: (req) => call('createNetwork', req),
    listNetworks: async () => (await call<{ networks: NetworkMessage[] }>('listNetworks', {})).networks,
    inspectNetwork: (network) => call('inspectNetwork', { network }),
    deleteNetwork: async (network) => (await call<{ id: string }>('deleteNetwork', { network })).id,
    status: () => call('status', {}),
    listNat: () => call('listNat', {}),
    applyPolicies: (req) => call('applyPolicies', req),
    deletePolicies: (req) => call('deletePolicies', req),
    listPolicies: () => call('listPolicies', {}),
    close: () => client.close(),
  };
}

function fromGrpc(err: grpc.ServiceError, socketPath: string): BerthError {
  const code = err.metadata?.get(ERROR_CODE_KEY)[0];
  if (typeof code === 'string' && code !== '') return new BerthError(code as ErrorCode, err.details || err.message);
  if (err.code === grpc.status.UNAVAILABLE || err.code === grpc.status.DEADLINE_EXCEEDED) {
    return new NotAvailableError(`Cannot reach berthd at ${socketPath}: is it running? (${err.details || err.message})`, { value: socketPath });
  }
  return new BerthError('internal', `berthd answered ${grpc.status[err.code] ?? err.code}: ${err.details || err.message}`);
}
