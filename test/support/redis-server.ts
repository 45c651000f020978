/**
 * Starts a real redis-server child process on a free 127.0.0.1 port for one test file, so tests can
 * stop and restart it (TEST_REDIS_URL from CI is shared and must not be stopped).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import net from 'node:net';

export function redisServerInstalled(): boolean {
  try {
    execFileSync('redis-server', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export interface RedisHandle {
  url: string;
  port: number;
  /** Stops the server: SIGKILL (a crash) by default, SIGTERM (a clean restart: Redis flushes its AOF) when graceful. */
  stop(opts?: { graceful?: boolean }): Promise<void>;
  start(): Promise<void>;
}

export interface RedisOptions {
  /**
   * Keep the data in this folder with an append-only file, fsynced every second: the persistence a
   * user configures (docker-compose.yml), so a restarted server comes back with its keys. Default:
   * no persistence (a restart forgets everything).
   */
  persistDir?: string;
}

export async function startRedis(opts: RedisOptions = {}): Promise<RedisHandle> {
  const port = await freePort();
  let child: ChildProcess | undefined;
  const persistence = opts.persistDir
    ? ['--dir', opts.persistDir, '--appendonly', 'yes', '--appendfsync', 'everysec', '--save', '']
    : ['--save', '', '--appendonly', 'no'];
  const start = async () => {
    const proc = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', ...persistence, '--daemonize', 'no'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child = proc;
    await new Promise<void>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`redis-server did not start: ${out}`)), 10_000);
      proc.stdout?.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('Ready to accept connections')) {
          clearTimeout(timer);
          resolve();
        }
      });
      proc.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`redis-server exited with ${code}: ${out}`));
      });
    });
  };
  const stop = async (how: { graceful?: boolean } = {}) => {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      proc.once('exit', () => resolve());
      proc.kill(how.graceful ? 'SIGTERM' : 'SIGKILL');
    });
  };
  await start();
  return { url: `redis://127.0.0.1:${port}`, port, stop, start };
}
