/**
 * No Docker engine runs here, so the Dockerfile is linted (dockerfile-utils, the linter behind the
 * Dockerfile language server) and parsed for the essentials: pinned bases, production-only install
 * with the same `npm ci` flags CI uses, non-root user, tini as PID 1, healthcheck, data volume.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { validate } from 'dockerfile-utils';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../support/fixtures.ts';

const read = (name: string) => readFileSync(path.join(REPO_ROOT, name), 'utf8');

interface Instruction {
  keyword: string;
  args: string;
  line: number;
}
interface Stage {
  from: string;
  name: string | undefined;
  instructions: Instruction[];
}

/** Splits a Dockerfile into stages of instructions (continuation lines joined, comments dropped). */
function parseDockerfile(text: string): Stage[] {
  const stages: Stage[] = [];
  let pending = '';
  let startLine = 0;
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (!pending && (line === '' || line.startsWith('#'))) return;
    if (pending && line.startsWith('#')) return;
    if (!pending) startLine = i + 1;
    pending += `${line.replace(/\\$/, '').trim()} `;
    if (line.endsWith('\\')) return;
    const [keyword = '', ...rest] = pending.trim().split(/\s+/);
    const args = rest.join(' ');
    pending = '';
    const instruction = { keyword: keyword.toUpperCase(), args, line: startLine };
    if (instruction.keyword === 'FROM') {
      const m = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args);
      stages.push({ from: m?.[1] ?? args, name: m?.[2], instructions: [] });
    } else {
      stages.at(-1)?.instructions.push(instruction);
    }
  });
  return stages;
}

const dockerfile = read('Dockerfile');
const stages = parseDockerfile(dockerfile);
const stage = (name: string) => {
  const s = stages.find((x) => x.name === name);
  if (!s) throw new Error(`no stage ${name}`);
  return s;
};
const all = (s: Stage, keyword: string) => s.instructions.filter((i) => i.keyword === keyword);
const last = (s: Stage, keyword: string) => all(s, keyword).at(-1)?.args;

/** The flags of CI's `npm ci` line in .ci/run. */
function ciNpmFlags(): string[] {
  const line = read('.ci/run')
    .split('\n')
    .find((l) => /^\s*npm ci\b/.test(l));
  expect(line, '.ci/run has an npm ci line').toBeDefined();
  return (line ?? '').trim().split(/\s+/).slice(2);
}

describe('Dockerfile', () => {
  it('passes the linter with no errors or warnings', () => {
    const problems = validate(dockerfile).map((d) => `line ${d.range.start.line + 1}: ${d.message}`);
    expect(problems).toEqual([]);
  });

  it('pins every external base image by version tag', () => {
    const names = new Set(stages.map((s) => s.name).filter(Boolean));
    const external = stages.map((s) => s.from).filter((f) => !names.has(f));
    expect(external.length).toBeGreaterThanOrEqual(2);
    for (const image of external) {
      expect(image).toMatch(/^[\w./-]+:\d+\.\d+\.\d+[\w.-]*$/);
      expect(image).not.toMatch(/:latest$|:lts/);
    }
    expect(stage('base').from).toMatch(/^node:20\.\d+\.\d+-bookworm-slim$/);
    expect(stage('runtime-cuda').from).toMatch(/^nvidia\/cuda:12\.\d+\.\d+-cudnn-runtime-/);
  });

  it('installs production dependencies with the npm ci flags CI uses, CUDA only in the CUDA image', () => {
    const flags = ciNpmFlags();
    expect(flags.length).toBeGreaterThan(0);
    const installs = stages.flatMap((s) =>
      all(s, 'RUN')
        .filter((r) => /\bnpm ci\b/.test(r.args))
        .map((r) => ({ stage: s.name, args: r.args })),
    );
    expect(installs.map((i) => i.stage).sort()).toEqual(['deps', 'deps-cuda']);
    for (const { args } of installs) {
      const npmCi = /npm ci([^&;]*)/.exec(args)?.[1]?.trim().split(/\s+/) ?? [];
      expect(npmCi.sort()).toEqual([...flags, '--omit=dev'].sort());
    }
    expect(installs.find((i) => i.stage === 'deps')?.args).toMatch(/ONNXRUNTIME_NODE_INSTALL=skip npm ci/);
    expect(installs.find((i) => i.stage === 'deps-cuda')?.args).toMatch(
      /ONNXRUNTIME_NODE_INSTALL=cuda12 node node_modules\/onnxruntime-node\/script\/install\.js/,
    );
    // The app runs TypeScript through tsx, so tsx must be a production dependency.
    const pkg = JSON.parse(read('package.json')) as { dependencies: Record<string, string> };
    expect(pkg.dependencies.tsx).toBeDefined();
  });

  it("denies onnxruntime-node's CUDA download to every plain install, quietly (npm allowScripts)", () => {
    const pkg = JSON.parse(read('package.json')) as { allowScripts?: Record<string, boolean> };
    // npm 11.19+ skips a denied script without a word; npm 12 blocks any script not listed.
    expect(pkg.allowScripts?.['onnxruntime-node']).toBe(false);
    // The native build that has no reachable prebuilt binary must stay allowed.
    expect(pkg.allowScripts?.sqlite3).toBe(true);
    // An unknown key in .npmrc makes npm 11 print a warning on every command.
    expect(existsSync(path.join(REPO_ROOT, '.npmrc'))).toBe(false);
  });

  it('makes the CPU image the default (last) stage', () => {
    expect(stages.at(-1)?.name).toBe('runtime');
  });

  for (const name of ['runtime', 'runtime-cuda']) {
    describe(`${name} image`, () => {
      const s = stage(name);

      it('runs as a non-root user', () => {
        const user = last(s, 'USER');
        expect(user).toBeDefined();
        expect(user).not.toMatch(/^(root|0)(:|$)/);
      });

      it('runs tini as PID 1 and serves by default', () => {
        expect(JSON.parse(last(s, 'ENTRYPOINT') ?? 'null')).toEqual(['/usr/bin/tini', '--']);
        expect(all(s, 'RUN').some((r) => /apt-get install[^&]*\btini\b/.test(r.args))).toBe(true);
        expect(JSON.parse(last(s, 'CMD') ?? 'null')).toEqual(['node', 'bin/imagesearch.js', 'serve']);
      });

      it('checks /healthz with node (no curl in the image)', () => {
        const hc = last(s, 'HEALTHCHECK') ?? '';
        expect(hc).toMatch(/CMD \["node", "-e"/);
        expect(hc).toContain('/healthz');
        expect(hc).not.toMatch(/curl|wget/);
      });

      it('keeps data in a volume and listens on all interfaces', () => {
        expect(last(s, 'VOLUME')).toBe('/app/data');
        const env = all(s, 'ENV')
          .map((e) => e.args)
          .join(' ');
        expect(env).toMatch(/\bHOST=0\.0\.0\.0\b/);
        expect(env).toMatch(/\bIMAGESEARCH_DATA_DIR=\/app\/data\b/);
        // Only node_modules from a deps stage: no compilers or dev tooling in the runtime image.
        const copies = all(s, 'COPY').map((c) => c.args);
        expect(copies.some((c) => /--from=deps(-cuda)? \/app\/node_modules/.test(c))).toBe(true);
        expect(copies.every((c) => !/\b(test|scripts|\.env)\b/.test(c))).toBe(true);
      });
    });
  }
});

describe('.dockerignore and docker-compose.yml', () => {
  it('keeps secrets, data and local installs out of the build context', () => {
    const ignored = read('.dockerignore')
      .split('\n')
      .map((l) => l.trim());
    for (const entry of ['.git', 'node_modules', 'data', '.env', 'test']) expect(ignored).toContain(entry);
  });

  it('runs the bot with Redis state and a data volume', () => {
    const compose = read('docker-compose.yml');
    expect(compose).toMatch(/STATE_URL: redis:\/\/redis:6379/);
    expect(compose).toMatch(/^\s+redis:\n\s+image: redis:\d+\.\d+\.\d+/m);
    expect(compose).toMatch(/- imagesearch-data:\/app\/data/);
    // No secret values; an explicitly empty one (a replica with Discord off) is not a secret.
    expect(compose).not.toMatch(/(TOKEN|SECRET|API_KEY):\s*(?!""\s*$)\S/m);
    expect(compose).toMatch(/DISCORD_TOKEN: ""/);
  });

  it('has a replicated profile: two replicas behind the shipped nginx config, sharing Redis with an append-only file', () => {
    const compose = read('docker-compose.yml');
    for (const service of ['setup', 'replica-a', 'replica-b', 'lb'])
      expect(compose).toMatch(new RegExp(`^  ${service}:`, 'm'));
    expect(compose).toMatch(/profiles: \[replicated\]/);
    expect(compose).toMatch(/- \.\/deploy\/nginx\.conf:\/etc\/nginx\/conf\.d\/default\.conf:ro/);
    expect(compose).toMatch(/"serve", "--no-setup"/);
    expect(compose).toMatch(/condition: service_completed_successfully/);
    expect(compose).toMatch(/TRUST_PROXY: "1"/);
    expect(compose).toMatch(/"--appendonly", "yes"/);
    const nginx = read('deploy/nginx.conf');
    expect(nginx).toMatch(/server replica-a:3000/);
    expect(nginx).toMatch(/server replica-b:3000/);
    expect(nginx).toMatch(/proxy_next_upstream error timeout/);
    expect(nginx).toMatch(/X-Forwarded-For \$proxy_add_x_forwarded_for/);
  });

  it('has a lint:docker script', () => {
    const pkg = JSON.parse(read('package.json')) as { scripts: Record<string, string> };
    expect(pkg.scripts['lint:docker']).toMatch(/dockerfile-utils lint Dockerfile/);
  });
});
