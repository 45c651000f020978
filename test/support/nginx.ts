/**
 * A real nginx (Debian's nginx-light) as the load balancer in front of bot replicas, run unprivileged
 * from a config in a temp folder (`nginx -c FILE -p DIR -e LOG`, its own pid and temp paths), on a
 * free 127.0.0.1 port, with the server block the repository ships (deploy/nginx.conf): a
 * round-robin upstream that passes a request on to the next replica when one cannot be reached.
 *
 * Tests also need to say which replica should get a request ("slash command on one, thread reply on
 * the other"): a request carrying `X-Replica: a` goes to an upstream that prefers replica a and has
 * the others as backups, so a pinned request still fails over like any other. The access log records
 * which replica(s) nginx tried for each request.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT, tempDir } from './fixtures.ts';
import { freePort } from './redis-server.ts';

const CANDIDATES = ['nginx', '/usr/sbin/nginx'];

/** The nginx binary, or undefined when nginx is not installed. */
export function nginxBinary(): string | undefined {
  for (const bin of CANDIDATES) {
    try {
      execFileSync(bin, ['-v'], { stdio: 'ignore' });
      return bin;
    } catch {
      // next candidate
    }
  }
  return undefined;
}

export interface NginxHandle {
  /** `http://127.0.0.1:PORT` */
  url: string;
  /** Access log lines: `METHOD URI STATUS upstream=ADDR[, ADDR] pin=NAME`. */
  accessLog(): string[];
  stop(): Promise<void>;
}

/** The load balancer configuration the repository ships (docker compose --profile replicated). */
export const SHIPPED_CONFIG = path.join(REPO_ROOT, 'deploy', 'nginx.conf');

/**
 * The shipped server block with its addresses swapped for loopback ones (`replicas` maps a pin name,
 * "a" or "b", to a replica's `host:port`), inside a main config that runs unprivileged from `dir`.
 * Added for the test only: per-replica upstreams (the others as backups) chosen by `X-Replica`.
 */
export function nginxConfig(dir: string, port: number, replicas: Record<string, string>): string {
  let shipped = readFileSync(SHIPPED_CONFIG, 'utf8');
  for (const [name, address] of Object.entries(replicas)) {
    if (!shipped.includes(`replica-${name}:3000`))
      throw new Error(`deploy/nginx.conf has no replica-${name}`);
    shipped = shipped.replaceAll(`replica-${name}:3000`, address);
  }
  if (!/listen 8080;/.test(shipped) || !/proxy_pass http:\/\/imagesearch;/.test(shipped))
    throw new Error('deploy/nginx.conf changed shape: update test/support/nginx.ts');
  shipped = shipped
    .replace('listen 8080;', `listen 127.0.0.1:${port};`)
    .replace('proxy_pass http://imagesearch;', 'proxy_pass http://$pool;');
  const names = Object.keys(replicas);
  const pinned = names
    .map((first) => {
      const servers = names
        .map((n) => `    server ${replicas[n]} max_fails=1 fail_timeout=10s${n === first ? '' : ' backup'};`)
        .join('\n');
      return `  upstream replica_${first} {\n${servers}\n  }`;
    })
    .join('\n');
  return `daemon off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 256; }
http {
  client_body_temp_path ${dir}/tmp/body;
  proxy_temp_path ${dir}/tmp/proxy;
  fastcgi_temp_path ${dir}/tmp/fastcgi;
  uwsgi_temp_path ${dir}/tmp/uwsgi;
  scgi_temp_path ${dir}/tmp/scgi;
  log_format replicas '$request_method $uri $status upstream=$upstream_addr pin=$http_x_replica';
  access_log ${dir}/access.log replicas;

${pinned}
  map $http_x_replica $pool {
    default imagesearch;
${names.map((n) => `    ${n} replica_${n};`).join('\n')}
  }

${shipped}
}
`;
}

export async function startNginx(bin: string, replicas: Record<string, string>): Promise<NginxHandle> {
  const dir = tempDir('imagesearch-nginx-');
  mkdirSync(path.join(dir, 'tmp'), { recursive: true });
  const port = await freePort();
  const conf = path.join(dir, 'nginx.conf');
  writeFileSync(conf, nginxConfig(dir, port, replicas));
  const child: ChildProcess = spawn(bin, ['-c', conf, '-p', dir, '-e', path.join(dir, 'error.log')], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) {
      const log = existsSync(path.join(dir, 'error.log'))
        ? readFileSync(path.join(dir, 'error.log'), 'utf8')
        : '';
      throw new Error(`nginx exited with ${child.exitCode}: ${stderr}${log}`);
    }
    // Any answer (even 502 while no replica is up) means nginx listens.
    const up = await fetch(`${url}/healthz`).then(
      () => true,
      () => false,
    );
    if (up) break;
    if (Date.now() > deadline) throw new Error(`nginx did not start: ${stderr}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url,
    accessLog: () => {
      const file = path.join(dir, 'access.log');
      return existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];
    },
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGQUIT');
      }),
  };
}
