/**
 * Load: 2,000 searches through the web adapter's HTTP API at 24 concurrent, on the whole
 * bot over the tiny model. Zero errors; every reply well-formed and answering its own query (no
 * cross-talk between concurrent requests); memory flat after warm-up (bounded caches — embeddings,
 * grids, replies — fill up, then stop growing). Latencies are reported, never asserted: the
 * machine's load decides them. The limiter is raised so this measures the system, not the rate
 * limit. Most of each search's CPU is the sharp grid (~35 ms on one core).
 */
import v8 from 'node:v8';
import vm from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningBot } from '../../adapters/app/serve.ts';
import { metricValue, startTinyBot, WebClient } from './harness.ts';

const TOTAL = 2000;
const CONCURRENCY = 24;
// 500 distinct queries, each asked 4 times. The first pass is the warm-up: it fills the bounded
// caches (query embeddings, grids, thumbnails), after which memory must stay flat. Repeats only save
// the ~2 ms encode; the grid (~35 ms of CPU) is composed for every search.
const DISTINCT = 500;
const WARMUP = DISTINCT;
const MB = 1024 * 1024;
/**
 * Growth allowed from the end of warm-up to the end of the run, memory sampled after a full GC.
 * - JS heap 4 MB: the caches are full by then, so the heap should not grow at all; keeping one
 *   512-float query vector (2 KB) per request over the 1,500 measured requests would be 3 MB.
 * - Buffers (`arrayBuffers`) 16 MB: grids live in the bounded web image cache (200 entries, filled
 *   during warm-up); keeping every grid (~135 KB here) of the 1,500 measured requests would be
 *   ~200 MB (seen when planted), keeping one in ten still ~20 MB.
 * - RSS 64 MB: the process as a whole, with room for libvips' own operation cache (sharp's default
 *   cap is 50 MB) and allocator slack; it used to allow 150 MB.
 */
const MAX_HEAP_GROWTH_MB = 4;
const MAX_BUFFER_GROWTH_MB = 16;
const MAX_RSS_GROWTH_MB = 64;

const SUBJECTS = [
  'dog',
  'cat',
  'bicycle',
  'mountain',
  'city street',
  'beach',
  'forest',
  'car',
  'bridge',
  'lake',
];
const MODIFIERS = ['red', 'old', 'tiny', 'foggy', 'sunny', 'snowy', 'busy', 'quiet', 'wet', 'bright'];
const PLACES = ['at night', 'in the rain', 'from above', 'at dawn', 'in winter', 'near water', 'in a field'];
function query(n: number): string {
  const i = n % DISTINCT;
  const s = SUBJECTS[i % SUBJECTS.length];
  const m = MODIFIERS[Math.floor(i / SUBJECTS.length) % MODIFIERS.length];
  const p = PLACES[Math.floor(i / (SUBJECTS.length * MODIFIERS.length)) % PLACES.length];
  return `${m} ${s} ${p} #${i}`;
}

let bot: RunningBot;

// Memory is sampled after a full GC, so uncollected garbage does not read as growth.
v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;
function memory() {
  gc();
  return process.memoryUsage();
}

beforeAll(async () => {
  bot = await startTinyBot({ RATE_LIMIT_PER_MINUTE: '100000', MAX_CONCURRENT_SEARCHES: '32' });
});

afterAll(async () => {
  await bot?.stop();
});

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

describe('load', () => {
  it(`answers ${TOTAL} searches at ${CONCURRENCY} concurrent with zero errors and flat memory`, async () => {
    const latencies: number[] = [];
    const failures: string[] = [];
    let next = 0;
    let rssAfterWarmup = 0;
    let rssMid = 0;
    let heapAfterWarmup = 0;
    let buffersAfterWarmup = 0;
    let gridsChecked = 0;
    const started = performance.now();

    const worker = async () => {
      const client = new WebClient(bot.url);
      for (;;) {
        const i = next++;
        if (i >= TOTAL) return;
        if (i === WARMUP) {
          const m = memory();
          rssAfterWarmup = m.rss;
          heapAfterWarmup = m.heapUsed;
          buffersAfterWarmup = m.arrayBuffers;
        }
        if (i === TOTAL / 2) rssMid = memory().rss;
        const t = performance.now();
        try {
          const [status, reply] = await client.search(query(i));
          latencies.push(performance.now() - t);
          if (status !== 200 || reply.kind !== 'results') {
            failures.push(`#${i}: ${status} ${reply.kind} ${reply.text}`);
            continue;
          }
          // Well-formed, and the answer to THIS request's query, not a neighbour's.
          const ns = reply.picks.map((p) => p.n).join(',');
          const ids = new Set(reply.picks.map((p) => p.id));
          const problems = [
            reply.query !== query(i) && `query ${JSON.stringify(reply.query)}`,
            !reply.text.includes(query(i)) && 'text does not name the query',
            ns !== '1,2,3,4' && `picks numbered ${ns}`,
            (ids.size !== 4 || [...ids].some((id) => !id)) && 'picks not 4 distinct ids',
            !/^\/api\/image\/[\w-]+$/.test(reply.gridUrl) && `grid url ${reply.gridUrl}`,
            !reply.actions.some((a) => a.type === 'reroll') && 'no reroll button',
          ].filter(Boolean);
          if (problems.length > 0) failures.push(`#${i}: ${problems.join('; ')}`);
          // Every 50th: the grid it points to is there and is an image.
          if (i % 50 === 0) {
            const grid = await fetch(`${bot.url}${reply.gridUrl}`);
            const bytes = Buffer.from(await grid.arrayBuffer());
            const jpeg = bytes[0] === 0xff && bytes[1] === 0xd8;
            const png = bytes.subarray(1, 4).toString('latin1') === 'PNG';
            if (grid.status !== 200 || !(jpeg || png)) failures.push(`#${i}: grid ${grid.status}`);
            else gridsChecked += 1;
          }
        } catch (e) {
          failures.push(`#${i}: ${e instanceof Error ? e.message : String(e)}`);
        }
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    const wallS = (performance.now() - started) / 1000;
    // The last replies are out, but on a loaded machine the bot may still be finishing work that
    // follows a reply (state writes, cache fills): let it settle, so that is not read as growth.
    await new Promise((r) => setTimeout(r, 2000));
    const end = memory();
    const rssEnd = end.rss;
    const heapGrowthMb = (end.heapUsed - heapAfterWarmup) / MB;
    const bufferGrowthMb = (end.arrayBuffers - buffersAfterWarmup) / MB;

    latencies.sort((a, b) => a - b);
    const p50 = percentile(latencies, 50);
    const p95 = percentile(latencies, 95);
    const p99 = percentile(latencies, 99);
    const growthMb = (rssEnd - rssAfterWarmup) / MB;
    console.log(
      `[load] ${TOTAL} searches (${DISTINCT} distinct) via web adapter, ${CONCURRENCY} concurrent, tiny model: errors=${failures.length} ` +
        `p50=${p50.toFixed(1)}ms p95=${p95.toFixed(1)}ms p99=${p99.toFixed(1)}ms ` +
        `throughput=${(TOTAL / wallS).toFixed(0)}/s wall=${wallS.toFixed(1)}s ` +
        `rss after warm-up=${(rssAfterWarmup / MB).toFixed(0)}MB mid=${(rssMid / MB).toFixed(0)}MB end=${(rssEnd / MB).toFixed(0)}MB growth=${growthMb.toFixed(1)}MB (JS heap ${heapGrowthMb.toFixed(1)}MB, buffers ${bufferGrowthMb.toFixed(1)}MB)`,
    );

    expect(failures.length, failures.slice(0, 5).join('\n')).toBe(0);
    expect(latencies).toHaveLength(TOTAL);
    expect(gridsChecked).toBe(TOTAL / 50);
    expect(heapGrowthMb).toBeLessThan(MAX_HEAP_GROWTH_MB);
    expect(bufferGrowthMb).toBeLessThan(MAX_BUFFER_GROWTH_MB);
    expect(growthMb).toBeLessThan(MAX_RSS_GROWTH_MB);
    // The metrics saw every one of them.
    const { body } = await bot.metrics.expose();
    expect(metricValue(body, 'imagesearch_requests_total', { platform: 'web', outcome: 'results' })).toBe(
      TOTAL,
    );
    // Not a timed test: the timeout only stops a hung run (a loaded 2-core machine needs ~2.5 min).
  }, 400_000);
});
