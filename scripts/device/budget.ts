/**
 * The carry budget of the device kit. The device tool sends the working tree (tracked and
 * untracked-not-ignored files) plus the carried folders, 64 MiB in all; the kit keeps 4 MiB of that
 * for the tree by holding itself to 60 MiB.
 */

/** Which part of the kit a file belongs to (also picks its estimated compression ratio). */
export type PackKind = 'node' | 'natives' | 'kit' | 'device' | 'gl';

/** One carried file (or, in a dry run, one file that would be made). */
export interface PackEntry {
  /** Relative to the repository root. */
  path: string;
  kind: PackKind;
  /** Size on disk, or the estimate when `estimated`. */
  bytes: number;
  /** Size before compression (dry runs). */
  rawBytes?: number;
  estimated?: boolean;
}

/** Limits in bytes. */
export interface Budget {
  /** The carried folders together (.device + .gl). */
  carriedMax: number;
  /** The device tool's limit on everything that travels. */
  totalMax: number;
}

const MiB = 1024 * 1024;

export const DEFAULT_BUDGET: Budget = { carriedMax: 60 * MiB, totalMax: 64 * MiB };

/**
 * xz -9 ratios measured here, rounded up so a dry run errs large: node 20's binary packs to 0.241,
 * libonnxruntime.so to 0.272; the kit is mostly already-compressed photos and a JS bundle.
 */
export const ESTIMATED_XZ_RATIO: Record<PackKind, number> = {
  node: 0.26,
  natives: 0.32,
  kit: 0.6,
  device: 1,
  gl: 1,
};

/** The outcome of a budget check, with a table for people and numbers for tests. */
export interface BudgetResult {
  ok: boolean;
  entries: PackEntry[];
  carriedBytes: number;
  workingTreeBytes: number;
  totalBytes: number;
  budget: Budget;
  problems: string[];
  table: string;
}

export function formatMiB(bytes: number): string {
  return `${(bytes / MiB).toFixed(2)} MiB`;
}

/** Sums the carried entries and the working tree and holds them to the budget. */
export function checkBudget(
  entries: PackEntry[],
  workingTreeBytes: number,
  budget: Budget = DEFAULT_BUDGET,
): BudgetResult {
  const carriedBytes = entries.reduce((s, e) => s + e.bytes, 0);
  const totalBytes = carriedBytes + workingTreeBytes;
  const problems: string[] = [];
  if (entries.length === 0) problems.push('nothing is packed (run scripts/device/pack.sh)');
  if (carriedBytes > budget.carriedMax) {
    problems.push(`carried folders ${formatMiB(carriedBytes)} > ${formatMiB(budget.carriedMax)}`);
  }
  if (totalBytes > budget.totalMax) {
    problems.push(
      `carried + working tree ${formatMiB(totalBytes)} > ${formatMiB(budget.totalMax)} (the device tool's limit)`,
    );
  }
  const width = Math.max(12, ...entries.map((e) => e.path.length));
  const lines = entries.map(
    (e) =>
      `${e.path.padEnd(width)}  ${formatMiB(e.bytes).padStart(11)}${e.estimated ? ' (est.)' : ''}${
        e.rawBytes !== undefined ? `  from ${formatMiB(e.rawBytes)}` : ''
      }`,
  );
  lines.push(
    `${'carried'.padEnd(width)}  ${formatMiB(carriedBytes).padStart(11)}  limit ${formatMiB(budget.carriedMax)}`,
  );
  lines.push(`${'working tree'.padEnd(width)}  ${formatMiB(workingTreeBytes).padStart(11)}`);
  lines.push(
    `${'total'.padEnd(width)}  ${formatMiB(totalBytes).padStart(11)}  limit ${formatMiB(budget.totalMax)}`,
  );
  lines.push(problems.length === 0 ? 'within budget' : `OVER BUDGET: ${problems.join('; ')}`);
  return {
    ok: problems.length === 0,
    entries,
    carriedBytes,
    workingTreeBytes,
    totalBytes,
    budget,
    problems,
    table: lines.join('\n'),
  };
}
