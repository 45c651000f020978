/**
 * End to end in a real browser: the web chat served by our HTTP server, the conversation engine with
 * SQLite state, and the real search pipeline (tiny fixture CLIP model + small index), driven through
 * Debian's headless chromium with playwright-core: query → grid → "more like 2" → "4 more".
 */
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWebAdapter } from '../../adapters/web/web-adapter.ts';
import { createConversationEngine } from '../../src/conversation/engine.ts';
import { silentLogger } from '../../src/logger.ts';
import { createHttpServer, type HttpServer } from '../../src/server/http-server.ts';
import { createStateStore, type ManagedStateStore } from '../../src/state/state-store.ts';
import { REPO_ROOT, tempDir } from '../support/fixtures.ts';
import { createTestSearchService, type TestSearchStack } from '../support/models.ts';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium)
  console.warn(`chromium not found at ${CHROMIUM}: skipping the browser test (set CHROMIUM_PATH)`);

describe.skipIf(!haveChromium)('web chat in a real browser', () => {
  let stack: TestSearchStack;
  let state: ManagedStateStore;
  let http: HttpServer;
  let browser: Browser;
  let url: string;

  beforeAll(async () => {
    const logger = silentLogger();
    stack = await createTestSearchService({ logger });
    state = createStateStore({ dataDir: tempDir(), ttlMs: 60_000, logger });
    const handler = createConversationEngine({
      search: stack.search,
      state,
      logger,
      rateLimitPerMinute: 100,
      maxConcurrent: 2,
      ttlMs: 60_000,
    });
    const web = createWebAdapter({ handler, logger });
    await web.start();
    http = createHttpServer({ routes: web.routes, logger });
    url = (await http.listen(0, '127.0.0.1')).url;
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
    await http?.close();
    await state?.close();
    await stack?.close();
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
