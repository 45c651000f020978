/**
 * Setup killed with SIGKILL (no chance to clean up) mid-download and mid-thumbnails, then run
 * again: it must finish without fetching again what was already on disk.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { checkModelDir } from '../../src/setup/hf-download.ts';
import { needsSetup } from '../../src/setup/setup.ts';
import { loadState } from '../../src/setup/state.ts';
import { unsplashPaths } from '../../src/setup/unsplash.ts';
import { loadConfig } from '../../src/util/config.ts';
import { type HubPeer, startHubPeer } from '../peers/hub-peer.ts';
import { standardPhotos } from '../peers/unsplash-fixture.ts';
import { REPO_ROOT, tempDir } from '../support/fixtures.ts';
import { FAST_NETWORK, modelRepoFiles, testEnv } from './support/setup-fixtures.ts';

const VISION = 'onnx/vision_model_quantized.onnx';

let peer: HubPeer | undefined;
const children: ChildProcess[] = [];
afterEach(async () => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
  await peer?.close();
  peer = undefined;
});

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
}

function startSetup(env: NodeJS.ProcessEnv): { child: ChildProcess; exited: Promise<Exit> } {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/setup/support/setup-child.ts'], {
    cwd: REPO_ROOT,
    env: {
      ...process.env,
      ...env,
      LOG_LEVEL: 'warn',
      IMAGESEARCH_TEST_NETWORK: JSON.stringify(FAST_NETWORK),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  child.stdout?.resume();
  const exited = new Promise<Exit>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal, stderr })),
  );
  return { child, exited };
}

async function waitFor(what: string, cond: () => boolean, timeoutMs = 15_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 15));
  }
}

function sizeOf(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

async function killHard(run: { child: ChildProcess; exited: Promise<Exit> }): Promise<void> {
  run.child.kill('SIGKILL');
  expect((await run.exited).signal).toBe('SIGKILL');
}

async function runToEnd(env: NodeJS.ProcessEnv): Promise<void> {
  const r = await startSetup(env).exited;
  expect(r.stderr).not.toContain('SETUP FAILED');
  expect(r.code).toBe(0);
}

describe('kill -9 and resume', () => {
  it('mid model download: the rerun resumes the .part with Range and verifies it', async () => {
    peer = await startHubPeer({
      modelFiles: modelRepoFiles(100_000, 3_000_000),
      photos: standardPhotos(2, []),
    });
    peer.faults.throttleBps = 3_000_000;
    const dataDir = tempDir();
    const env = testEnv(peer.url, peer.datasetUrl, dataDir);
    const config = loadConfig(env);
    const part = path.join(config.modelDir, `${VISION}.part`);

    const first = startSetup(env);
    await waitFor('half the vision model', () => sizeOf(part) > 1_000_000);
    await killHard(first);
    const kept = sizeOf(part);
    // Nothing half-written under a final name: the model is not considered present.
    expect(existsSync(path.join(config.modelDir, VISION))).toBe(false);
    expect((await checkModelDir(config.modelDir, 'quantized')).ok).toBe(false);
    expect((await needsSetup(config)).model).toBe(true);

    peer.faults.throttleBps = undefined;
    await runToEnd(env);
    const cdn = `/cdn/${peer.sha256(VISION)}/${VISION}`;
    const gets = peer.requests.filter((q) => q.path === cdn && q.method === 'GET');
    expect(gets).toHaveLength(2);
    expect(gets[1]?.range).toBe(`bytes=${kept}-`);
    expect(gets[1]?.bytes).toBe(3_000_000 - kept);
    // Files finished before the kill were not fetched again.
    expect(peer.count(`/${peer.repo}/resolve/main/config.json`, 'GET')).toBe(1);
    expect(readFileSync(path.join(config.modelDir, VISION)).equals(peer.files.get(VISION) as Buffer)).toBe(
      true,
    );
    expect(await needsSetup(config)).toEqual({ model: false, index: false });
  });

  it('mid archive download: the rerun resumes the zip', async () => {
    peer = await startHubPeer({
      modelFiles: modelRepoFiles(),
      photos: standardPhotos(3, []),
      archivePadBytes: 3_000_000,
    });
    const dataDir = tempDir();
    const env = testEnv(peer.url, peer.datasetUrl, dataDir);
    const zipPart = `${unsplashPaths(dataDir).archive}.part`;

    peer.faults.throttleBps = 3_000_000;
    peer.faults.throttlePrefix = '/datasets/';
    const first = startSetup(env);
    await waitFor('part of the archive', () => sizeOf(zipPart) > 800_000);
    await killHard(first);
    const kept = sizeOf(zipPart);

    peer.faults.throttleBps = undefined;
    await runToEnd(env);
    const gets = peer.requests.filter((q) => q.path === '/datasets/unsplash-lite.zip');
    expect(gets).toHaveLength(2);
    expect(gets[1]?.range).toBe(`bytes=${kept}-`);
    expect(gets[1]?.status).toBe(206);
    expect(peer.count(`/${peer.repo}/resolve/`, 'GET')).toBe(7);
    expect((await loadState(dataDir)).index?.done).toBe(true);
  });

  it('mid thumbnails: photos already on disk are not fetched again', async () => {
    const specs = standardPhotos(40, ['missing']);
    peer = await startHubPeer({ modelFiles: modelRepoFiles(), photos: specs });
    peer.faults.imageDelayMs = 80;
    const dataDir = tempDir();
    const env = testEnv(peer.url, peer.datasetUrl, dataDir);
    const { imagesDir, manifest } = unsplashPaths(dataDir);
    const jpgs = () => {
      try {
        return readdirSync(imagesDir).filter((n) => n.endsWith('.jpg'));
      } catch {
        return [];
      }
    };

    const first = startSetup(env);
    await waitFor('some thumbnails', () => jpgs().length >= 10);
    await killHard(first);
    const before = jpgs().map((n) => n.replace(/\.jpg$/, ''));
    expect(before.length).toBeLessThan(40);

    peer.faults.imageDelayMs = 0;
    await runToEnd(env);
    for (const id of before) expect(peer.count(`/images/photo-${id}`)).toBe(1);
    // At most the requests in flight at the kill were repeated.
    const imageRequests = peer.count('/images/');
    expect(imageRequests).toBeLessThanOrEqual(specs.length + FAST_NETWORK.thumbnails.concurrency);
    // Finished stages were not redone: one archive download, one model download.
    expect(peer.count('/datasets/unsplash-lite.zip')).toBe(1);
    expect(peer.count(`/${peer.repo}/resolve/main/config.json`, 'GET')).toBe(1);
    expect(readFileSync(manifest, 'utf8').trim().split('\n')).toHaveLength(41);
    expect(readdirSync(imagesDir).filter((n) => n.includes('.tmp-'))).toEqual([]);
  });
});
