import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../support/fixtures.ts';

function sources(dir: string): string[] {
  return (readdirSync(path.join(REPO_ROOT, dir), { recursive: true }) as string[])
    .filter((f) => f.endsWith('.ts'))
    .map((f) => path.join(dir, f));
}

const IMPORT = /(?:from\s+|import\s*\(\s*|require\s*\(\s*)['"]([^'"]+)['"]/g;

function imports(file: string): string[] {
  return [...readFileSync(path.join(REPO_ROOT, file), 'utf8').matchAll(IMPORT)].map((m) => m[1]!);
}

/** The repository-relative file a relative import names, or undefined for a package. */
function target(file: string, spec: string): string | undefined {
  if (!spec.startsWith('.')) return undefined;
  return path.relative(REPO_ROOT, path.resolve(REPO_ROOT, path.dirname(file), spec));
}

/**
 * The layers, ground first (docs/architecture.md). A file may import its own layer and the ones
 * below it, never one above: contracts ← utilities ← engines ← pipeline ← adapter toolkit ←
 * platforms ← composition root ← the command-line program.
 */
const LAYERS: ReadonlyArray<readonly [string, number]> = [
  ['src/core', 0],
  ['src/util', 1],
  ['src/clip', 2],
  ['src/grid', 2],
  ['src/images', 2],
  ['src/index', 2],
  ['src/metrics', 2],
  ['src/rerank', 2],
  ['src/setup', 2],
  ['src/state', 2],
  ['src/vector', 2],
  ['src/search', 3],
  ['src/eval', 3],
  ['src/conversation', 3],
  ['adapters/kit', 4],
  ['adapters/discord', 5],
  ['adapters/slack', 5],
  ['adapters/web', 5],
  ['adapters/app', 6],
  ['adapters/cli', 7],
];

/** The layer rank of a repository-relative file, or undefined outside src/ and adapters/. */
function rank(file: string): number | undefined {
  const [top, folder] = file.split(path.sep);
  return LAYERS.find(([dir]) => dir === `${top}/${folder}`)?.[1];
}

const PLATFORM_SDK = /^(@slack\/|discord\.js|@discordjs\/|discord-api-types)/;

describe('architecture boundaries', () => {
  const core = sources('src');
  const adapters = sources('adapters');
  const production = [...core, ...adapters];

  it('finds the core sources', () => {
    expect(core.length).toBeGreaterThan(20);
  });

  it('every source file lives in a folder that names its layer', () => {
    expect(production.filter((f) => rank(f) === undefined)).toEqual([]);
  });

  it('src/core holds contracts only: it imports nothing of ours outside itself', () => {
    const offenders: string[] = [];
    for (const file of sources('src/core')) {
      for (const spec of imports(file)) {
        const to = target(file, spec);
        if (to !== undefined && !to.startsWith(`src${path.sep}core${path.sep}`))
          offenders.push(`${file} → ${spec}`);
      }
    }
    expect(offenders).toEqual([]);
  });

  it('an import never runs up a layer', () => {
    const offenders: string[] = [];
    for (const file of production) {
      for (const spec of imports(file)) {
        const to = target(file, spec);
        if (to === undefined) continue;
        const from = rank(file);
        const onto = rank(to);
        if (from === undefined || onto === undefined || onto > from) offenders.push(`${file} → ${spec}`);
      }
    }
    expect(offenders).toEqual([]);
  });

  it('src/ never imports platform SDKs or adapters/', () => {
    const offenders: string[] = [];
    for (const file of core) {
      for (const spec of imports(file)) {
        const platform = PLATFORM_SDK.test(spec);
        const adapter = target(file, spec)?.startsWith(`adapters${path.sep}`) ?? false;
        if (platform || adapter) offenders.push(`${file} → ${spec}`);
      }
    }
    expect(offenders).toEqual([]);
  });

  it('the adapter toolkit serves every platform, so it imports no platform SDK', () => {
    const offenders = sources('adapters/kit').flatMap((file) =>
      imports(file)
        .filter((spec) => PLATFORM_SDK.test(spec))
        .map((spec) => `${file} → ${spec}`),
    );
    expect(offenders).toEqual([]);
  });

  it('adapters do not reach into each other', () => {
    const offenders: string[] = [];
    for (const platform of ['slack', 'discord', 'web']) {
      for (const file of sources(path.join('adapters', platform))) {
        for (const spec of imports(file)) {
          const to = target(file, spec);
          if (to === undefined) continue;
          const [top, other] = to.split(path.sep);
          if (top === 'adapters' && other !== platform && ['slack', 'discord', 'web'].includes(other ?? '')) {
            offenders.push(`${file} → ${spec}`);
          }
        }
      }
    }
    expect(offenders).toEqual([]);
  });

  it('platforms reach the conversation layer and the state engines only through the kit (request flow, help)', () => {
    const offenders: string[] = [];
    for (const platform of ['slack', 'discord', 'web']) {
      for (const file of sources(path.join('adapters', platform))) {
        for (const spec of imports(file)) {
          const to = target(file, spec) ?? '';
          if (to.startsWith(path.join('src', 'conversation')) || to.startsWith(path.join('src', 'state')))
            offenders.push(`${file} → ${spec}`);
        }
      }
    }
    expect(offenders).toEqual([]);
  });

  it('production code loads no module named at run time (test seams are options, not env vars)', () => {
    const offenders = production.filter((f) =>
      /\bimport\(\s*[^'"\s)]/.test(readFileSync(path.join(REPO_ROOT, f), 'utf8')),
    );
    expect(offenders).toEqual([]);
  });

  it('the grid path never builds base64 data URLs', () => {
    const offenders = production.filter((f) => {
      const text = readFileSync(path.join(REPO_ROOT, f), 'utf8');
      return /data:image\/[a-z]+;base64/.test(text) && !f.includes(`rerank${path.sep}`);
    });
    expect(offenders).toEqual([]);
  });
});
