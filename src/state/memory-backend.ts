/** The in-process state backend (`STATE_URL=memory://`, tests): nothing shared, nothing kept. */
import Keyv from 'keyv';
import { type Backend, type BackendOptions, NAMESPACE } from './backend.ts';

export function openMemoryBackend(opts: BackendOptions): Backend {
  return {
    kind: 'memory',
    keyv: new Keyv({ namespace: NAMESPACE }),
    opTimeoutMs: opts.opTimeoutMs ?? 1000,
    connected: () => true,
    close: async () => undefined,
  };
}
