/**
 * Setup progress on disk (`<dataDir>/setup-state.json`, written atomically) and the lock that keeps
 * two setups from working on the same data directory at once.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import lockfile from 'proper-lockfile';
import { ImageSearchError } from '../core/errors.ts';
import { isErrnoCode, readJsonOrUndefined, writeFileAtomic } from '../util/fs-atomic.ts';
import type { Logger } from '../util/logger.ts';

/** One finished stage. `limit` is the photo limit it was done for (null = the whole dataset). */
export interface StageDone {
  done: true;
  at: string;
}

/** Contents of `setup-state.json`. Stages absent or without `done` are redone (resuming where they can). */
export interface SetupState {
  version: 1;
  model?: StageDone & { repo: string; revision: string; variant: string; dir: string };
  dataset?: {
    url: string;
    archive?: StageDone & { file: string; bytes: number };
    extract?: StageDone & { parts: string[] };
    thumbnails?: StageDone & { limit: number | null; ok: number; skipped: number };
    manifest?: StageDone & { file: string; limit: number | null; rows: number };
  };
  index?: StageDone & { dir: string; manifest: string; limit: number | null; total: number; added: number };
}

export const STATE_FILE = 'setup-state.json';

export function statePath(dataDir: string): string {
  return path.join(dataDir, STATE_FILE);
}

export async function loadState(dataDir: string): Promise<SetupState> {
  const raw = await readJsonOrUndefined(statePath(dataDir));
  if (typeof raw === 'object' && raw !== null && (raw as { version?: unknown }).version === 1)
    return raw as SetupState;
  return { version: 1 };
}

export async function saveState(dataDir: string, state: SetupState): Promise<void> {
  await writeFileAtomic(statePath(dataDir), `${JSON.stringify(state, null, 2)}\n`);
}

export function done(): StageDone {
  return { done: true, at: new Date().toISOString() };
}

const LOCK_FILE = 'setup.lock';
const OWNER_FILE = 'setup.lock.owner';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return isErrnoCode(e, 'EPERM');
  }
}

/**
 * Takes the setup lock (proper-lockfile, refreshed while held). A lock left by a process that was
 * killed on this host is taken over at once (its pid is gone) instead of waiting for it to go stale.
 * Returns the release function.
 */
export async function acquireSetupLock(dataDir: string, logger: Logger): Promise<() => Promise<void>> {
  await fs.mkdir(dataDir, { recursive: true });
  const lockfilePath = path.join(dataDir, LOCK_FILE);
  const ownerPath = path.join(dataDir, OWNER_FILE);
  const options: lockfile.LockOptions = {
    lockfilePath,
    stale: 15_000,
    update: 5_000,
    realpath: false,
    onCompromised: (err) =>
      logger.warn({ err: err.message }, 'setup lock was lost; another setup may be running'),
  };
  let release: () => Promise<void>;
  try {
    release = await lockfile.lock(dataDir, options);
  } catch (e) {
    if (!isErrnoCode(e, 'ELOCKED')) throw e;
    const owner = (await readJsonOrUndefined(ownerPath)) as { pid?: number; host?: string } | undefined;
    const dead = owner?.host === os.hostname() && typeof owner.pid === 'number' && !alive(owner.pid);
    if (!dead) {
      throw new ImageSearchError(
        'busy',
        `Another setup is already running on ${dataDir}${owner?.pid ? ` (pid ${owner.pid})` : ''}. Wait for it to finish, or stop it first.`,
      );
    }
    logger.info({ pid: owner?.pid }, 'taking over the lock of an interrupted setup');
    await fs.rm(lockfilePath, { recursive: true, force: true });
    release = await lockfile.lock(dataDir, options);
  }
  await writeFileAtomic(ownerPath, JSON.stringify({ pid: process.pid, host: os.hostname() }));
  return async () => {
    await fs.rm(ownerPath, { force: true });
    await release().catch(() => {});
  };
}
