/**
 * End to end in a real browser: the bot started the way `npm start` starts it — a child process
 * running `imagesearch serve` (core, SQLite state, conversation engine, web chat on the shared HTTP
 * server) over the tiny fixture CLIP model and the small index — driven through Debian's headless
 * chromium with playwright-core: query → grid → "more like 2" → "4 more".
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IMAGES_DIR, REPO_ROOT, tempDir } from '../support/fixtures.ts';
import { getSmallIndexDir, getTinyModelDir } from '../support/models.ts';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium)
  console.warn(`chromium not found at ${CHROMIUM}: skipping the browser test (set CHROMIUM_PATH)`);

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

/** `npm start` minus the dependency check: `node bin/imagesearch.js serve`, until it says it is ready. */
async function startServe(env: NodeJS.ProcessEnv): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(
    process.execPath,
    [path.join(REPO_ROOT, 'bin', 'imagesearch.js'), 'serve', '--no-setup'],
    {
      env,
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let log = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start:\n${log}`)), 60_000);
    child.stderr!.on('data', (d: Buffer) => {
      log += d.toString();
      const m = /imagesearch is ready: open (\S+)/.exec(log);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.on('exit', (code) => reject(new Error(`serve exited with ${code}:\n${log}`)));
  });
  return { child, url };
}

describe.skipIf(!haveChromium)('web chat in a real browser', () => {
  let serve: ChildProcess | undefined;
  let browser: Browser;
  let url: string;

  beforeAll(async () => {
    // The environment `npm start` would read, minus any platform credentials: web chat only.
    const { PATH, HOME, TMPDIR } = process.env;
    const started = await startServe({
      PATH,
      HOME,
      TMPDIR,
      PORT: String(await freePort()),
      HOST: '127.0.0.1',
      IMAGESEARCH_DATA_DIR: tempDir(),
      IMAGESEARCH_MODEL_DIR: await getTinyModelDir(),
      IMAGESEARCH_INDEX_DIR: await getSmallIndexDir(),
      IMAGES_DIR,
      // Random fixture weights give meaningless scores: no junk floor.
      IMAGESEARCH_MIN_SCORE: '-1',
      IMAGESEARCH_EP: 'cpu',
      LOG_LEVEL: 'warn',
    });
    serve = started.child;
    url = started.url;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    });
  });

  afterAll(async () => {
    await browser?.close();
    if (serve && serve.exitCode === null) {
      const exited = new Promise((r) => serve!.once('exit', r));
      serve.kill('SIGTERM');
      await exited;
    }
  });

  /** Waits for the n-th grid to appear and actually decode; returns the ids shown in each grid. */
  async function gridsAfter(page: Page, count: number): Promise<string[][]> {
    const grids = page.locator('.msg.results img.grid');
    await expect.poll(() => grids.count(), { timeout: 30_000 }).toBe(count);
    const last = grids.nth(count - 1);
    await last.waitFor({ state: 'visible' });
    await expect
      .poll(() => last.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth > 0), {
        timeout: 10_000,
      })
      .toBe(true);
    const src = await last.getAttribute('src');
    expect(src).toMatch(/^\/api\/image\//);
    const all = await grids.evaluateAll((imgs) => imgs.map((img) => img.getAttribute('data-ids') ?? ''));
    return all.map((ids) => ids.split(',').filter(Boolean));
  }

  it('query → grid visible → "more like 2" → "4 more": no image repeats', async () => {
    const page = await browser.newPage({ viewport: { width: 900, height: 1200 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(url);
    await page.locator('#text').fill('a cat sitting on a sofa');
    await page.locator('#text').press('Enter');
    const [first] = await gridsAfter(page, 1);
    expect(first).toHaveLength(4);

    await page.locator('.msg.results').last().locator('button[data-action="is:more:2"]').click();
    const second = (await gridsAfter(page, 2))[1] ?? [];
    expect(second.length).toBeGreaterThan(0);

    await page.locator('#text').fill('4 more');
    await page.locator('#send').click();
    const grids = await gridsAfter(page, 3);
    const all = grids.flat();
    expect(grids.map((g) => g.length).every((n) => n > 0)).toBe(true);
    expect(new Set(all).size).toBe(all.length);
    expect(errors).toEqual([]);

    // Grow the viewport to the whole chat so the sticky composer sits at the bottom of the shot.
    const height = await page.evaluate(() => document.documentElement.scrollHeight);
    await page.setViewportSize({ width: 900, height: Math.min(height, 8000) });
    const shotDir = tempDir('imagesearch-e2e-');
    const shot = path.join(shotDir, 'web-chat.png');
    await page.screenshot({ path: shot, fullPage: true });
    console.log(`web chat screenshot: ${shot}`);
    if (process.env.SAVE_SCREENSHOTS) {
      const dir = path.join(REPO_ROOT, 'test', 'artifacts');
      mkdirSync(dir, { recursive: true });
      await page.screenshot({ path: path.join(dir, 'web-chat.png'), fullPage: true });
    }
    await page.close();
  });
});
