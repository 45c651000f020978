/**
 * End to end in a real browser: the bot exactly as `npm start` composes it (`startBot`: core, SQLite
 * state, conversation engine, web chat on the shared HTTP server) over the tiny fixture CLIP model and
 * the small index, driven through Debian's headless chromium with playwright-core:
 * query → grid → "more like 2" → "4 more".
 */
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningBot, startBot } from '../../adapters/server.ts';
import { loadConfig } from '../../src/config.ts';
import { silentLogger } from '../../src/logger.ts';
import { REPO_ROOT, tempDir } from '../support/fixtures.ts';
import { getSmallIndexDir, getTinyModelDir } from '../support/models.ts';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium)
  console.warn(`chromium not found at ${CHROMIUM}: skipping the browser test (set CHROMIUM_PATH)`);

describe.skipIf(!haveChromium)('web chat in a real browser', () => {
  let bot: RunningBot;
  let browser: Browser;
  let url: string;

  beforeAll(async () => {
    // The environment `npm start` would read, minus any platform credentials: web chat only.
    const config = loadConfig({
      PORT: '0',
      HOST: '127.0.0.1',
      IMAGESEARCH_DATA_DIR: tempDir(),
      IMAGESEARCH_MODEL_DIR: await getTinyModelDir(),
      IMAGESEARCH_INDEX_DIR: await getSmallIndexDir(),
      // Random fixture weights give meaningless scores: no junk floor.
      IMAGESEARCH_MIN_SCORE: '-1',
      IMAGESEARCH_EP: 'cpu',
    });
    bot = await startBot(config, silentLogger());
    url = bot.url;
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
    await bot?.stop();
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
