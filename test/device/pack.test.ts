import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { checkBudget, DEFAULT_BUDGET, type PackEntry } from '../../scripts/device/budget.ts';
import { REPO_ROOT } from '../support/fixtures.ts';

const exec = promisify(execFile);
const MiB = 1024 * 1024;

interface BudgetJson {
  dryRun: boolean;
  ok: boolean;
  entries: PackEntry[];
  carriedBytes: number;
  workingTreeBytes: number;
  totalBytes: number;
  problems: string[];
}

/** Runs the pack step (never the full pack: that compresses ~160 MB and takes minutes). */
async function pack(args: string[]): Promise<{ code: number; json: BudgetJson }> {
  try {
    const { stdout } = await exec(
      'node',
      ['bin/run-script.js', 'scripts/device/pack.ts', ...args, '--json'],
      {
        cwd: REPO_ROOT,
      },
    );
    return { code: 0, json: JSON.parse(stdout) as BudgetJson };
  } catch (e) {
    const err = e as { code: number; stdout: string };
    return { code: err.code, json: JSON.parse(err.stdout) as BudgetJson };
  }
}

const packed = existsSync(path.join(REPO_ROOT, '.device', 'manifest.json'));

describe('checkBudget', () => {
  const entry = (p: string, mib: number): PackEntry => ({ path: p, kind: 'device', bytes: mib * MiB });

  it('passes a kit within 60 MiB whose total stays under the 64 MiB carry limit', () => {
    const r = checkBudget([entry('.device/node.xz', 23), entry('.device/natives.tar.xz', 19)], 1.2 * MiB);
    expect(r.ok).toBe(true);
    expect(r.carriedBytes).toBe(42 * MiB);
    expect(r.totalBytes).toBeCloseTo(43.2 * MiB, -3);
    expect(r.table).toMatch(/within budget$/);
  });

  it('fails a kit over 60 MiB', () => {
    const r = checkBudget([entry('.device/node.xz', 40), entry('.device/natives.tar.xz', 20.5)], 0);
    expect(r.ok).toBe(false);
    expect(r.problems).toEqual(['carried folders 60.50 MiB > 60.00 MiB']);
    expect(r.table).toMatch(/OVER BUDGET/);
  });

  it("fails when the working tree pushes the total past the device tool's 64 MiB", () => {
    const r = checkBudget([entry('.device/node.xz', 59)], 6 * MiB);
    expect(r.ok).toBe(false);
    expect(r.problems).toEqual(["carried + working tree 65.00 MiB > 64.00 MiB (the device tool's limit)"]);
  });

  it('fails when nothing is packed', () => {
    expect(checkBudget([], 0).problems[0]).toMatch(/nothing is packed/);
  });

  it('holds the kit to 60 MiB of the 64', () => {
    expect(DEFAULT_BUDGET).toEqual({ carriedMax: 60 * MiB, totalMax: 64 * MiB });
  });
});

describe('pack.ts --dry-run', () => {
  it('lists node, the natives and the kit with estimated sizes inside the budget', async () => {
    const { code, json } = await pack(['--dry-run']);
    expect(code).toBe(0);
    expect(json.dryRun).toBe(true);
    const paths = json.entries.map((e) => e.path);
    expect(paths.slice(0, 3)).toEqual(['.device/node.xz', '.device/natives.tar.xz', '.device/kit.tar.xz']);
    expect(paths.some((p) => p.startsWith('.gl/'))).toBe(true);
    const node = json.entries[0]!;
    // Node's binary is ~95 MiB raw: carried uncompressed it alone would eat the budget.
    expect(node.rawBytes).toBeGreaterThan(60 * MiB);
    expect(node.bytes).toBeLessThan(30 * MiB);
    expect(json.ok).toBe(true);
    expect(json.carriedBytes).toBeLessThanOrEqual(60 * MiB);
    expect(json.totalBytes).toBe(json.carriedBytes + json.workingTreeBytes);
    expect(json.workingTreeBytes).toBeGreaterThan(0);
  });

  it.runIf(packed)('errs large: each estimate is at least what packing produced', async () => {
    const [dry, real] = await Promise.all([pack(['--dry-run']), pack(['--check'])]);
    for (const f of ['.device/node.xz', '.device/natives.tar.xz', '.device/kit.tar.xz']) {
      const est = dry.json.entries.find((e) => e.path === f)!;
      const got = real.json.entries.find((e) => e.path === f)!;
      expect(est.bytes, f).toBeGreaterThanOrEqual(got.bytes);
    }
  });
});

describe.runIf(packed)('pack.ts --check (a kit is packed here)', () => {
  it('finds the packed kit within budget', async () => {
    const { code, json } = await pack(['--check']);
    expect(json.problems).toEqual([]);
    expect(code).toBe(0);
    const paths = json.entries.map((e) => e.path);
    for (const f of [
      '.device/node.xz',
      '.device/natives.tar.xz',
      '.device/kit.tar.xz',
      '.device/manifest.json',
    ]) {
      expect(paths).toContain(f);
    }
    expect(paths.some((p) => /^\.gl\/libvulkan1_.*_amd64\.deb$/.test(p))).toBe(true);
  });
});
