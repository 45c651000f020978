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

describe('architecture boundaries', () => {
  const core = sources('src');

  it('finds the core sources', () => {
    expect(core.length).toBeGreaterThan(20);
  });

  it('src/ never imports platform SDKs or adapters/', () => {
    const offenders: string[] = [];
    for (const file of core) {
      for (const spec of imports(file)) {
        const platform = /^(@slack\/|discord\.js|@discordjs\/|discord-api-types)/.test(spec);
        const adapter =
          spec.startsWith('.') &&
          path.resolve(REPO_ROOT, path.dirname(file), spec).startsWith(path.join(REPO_ROOT, 'adapters'));
        if (platform || adapter) offenders.push(`${file} → ${spec}`);
      }
    }
    expect(offenders).toEqual([]);
  });

  it('adapters do not reach into each other', () => {
    const offenders: string[] = [];
    for (const platform of ['slack', 'discord', 'web']) {
      for (const file of sources(path.join('adapters', platform))) {
        for (const spec of imports(file)) {
          if (!spec.startsWith('.')) continue;
          const target = path.relative(
            path.join(REPO_ROOT, 'adapters'),
            path.resolve(REPO_ROOT, path.dirname(file), spec),
          );
          const other = target.split(path.sep)[0];
          if (
            other &&
            other !== platform &&
            !other.startsWith('..') &&
            ['slack', 'discord', 'web'].includes(other)
          ) {
            offenders.push(`${file} → ${spec}`);
          }
        }
      }
    }
    expect(offenders).toEqual([]);
  });

  it('the grid path never builds base64 data URLs', () => {
    const offenders = [...core, ...sources('adapters')].filter((f) => {
      const text = readFileSync(path.join(REPO_ROOT, f), 'utf8');
      return /data:image\/[a-z]+;base64/.test(text) && !f.includes(`rerank${path.sep}`);
    });
    expect(offenders).toEqual([]);
  });
});
