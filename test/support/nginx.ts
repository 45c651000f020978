/**
 * A real nginx (Debian's nginx-light) as the load balancer in front of bot replicas, run unprivileged
 * from a config in a temp folder (`nginx -c FILE -p DIR -e LOG`, its own pid and temp paths), on a
 * free 127.0.0.1 port, the way docs/operations.md tells operators to configure it: a round-robin
 * upstream that passes a request on to the next replica when one cannot be reached
 * (`proxy_next_upstream error timeout`).
 *
 * Tests also need to say which replica should get a request ("slash command on one, thread reply on
 * the other"): a request carrying `X-Replica: a` goes to an upstream that prefers replica a and has
 * the others as backups, so a pinned request still fails over like any other. The access log records
 * which replica(s) nginx tried for each request.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { tempDir } from './fixtures.ts';
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

/** `replicas` maps a pin name ("a", "b") to a replica's `host:port`. */
export function nginxConfig(dir: string, port: number, replicas: Record<string, string>): string {
  const names = Object.keys(replicas);
  const servers = (first?: string) =>
    names
      .map((n) => {
        const backup = first !== undefined && n !== first ? ' backup' : '';
        return `    server ${replicas[n]} max_fails=1 fail_timeout=10s${backup};`;
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
  client_max_body_size 16m;

  upstream replicas {
${servers()}
  }
${names.map((n) => `  upstream replica_${n} {\n${servers(n)}\n  }`).join('\n')}
  map $http_x_replica $pool {
    default replicas;
${names.map((n) => `    ${n} replica_${n};`).join('\n')}
  }

  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://$pool;
      proxy_next_upstream error timeout;
      proxy_connect_timeout 2s;
      proxy_read_timeout 60s;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
    }
  }
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
