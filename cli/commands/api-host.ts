/**
 * Where the CLI finds berthd: `--host` (a socket path, `unix://` optional), else BERTH_HOST,
 * else the default socket.
 */
import { DEFAULT_API_SOCKET } from '../../daemon/grpc/client.js';

export function apiSocketPath(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  const raw = flag ?? env.BERTH_HOST ?? DEFAULT_API_SOCKET;
  return raw.replace(/^unix:\/\//, '').replace(/^unix:/, '');
}
