/**
 * One engine per process, so each RSS figure is that engine's alone (scale-bench.ts runs it):
 *
 *   build ENGINE FEATURES IDS OUT   import the matrix, print {ms, maxRssMb, count}
 *   serve ENGINE OUT QUERIES K      load the index, search every query twice (after start, then
 *                                   steady state), print latencies, results and RSS
 */

import { readFileSync } from 'node:fs';
import { isEngineName } from '../../src/index/engines/types.ts';
import { importNpy } from '../../src/index/import-npy.ts';
import { parseNpy } from '../../src/index/npy.ts';
import { openVectorIndex } from '../../src/index/open.ts';

const [mode, engine, ...rest] = process.argv.slice(2);
if (!engine || !isEngineName(engine)) throw new Error(`unknown engine ${engine}`);
const mb = (bytes: number) => Math.round(bytes / 2 ** 20);
const out = (o: unknown) => process.stdout.write(`${JSON.stringify(o)}\n`);

if (mode === 'build') {
  const [features, ids, dir] = rest as [string, string, string];
  const t = performance.now();
  const r = await importNpy({ features, ids, outDir: dir, engine, modelId: 'bench/clustered' });
  out({
    ms: Math.round(performance.now() - t),
    maxRssMb: mb(process.resourceUsage().maxRSS * 1024),
    count: r.count,
  });
} else if (mode === 'serve') {
  const [dir, queriesFile, kArg] = rest as [string, string, string];
  const k = Number(kArg);
  const baseRss = process.memoryUsage().rss;
  const t = performance.now();
  const index = await openVectorIndex(dir, { expect: { modelId: 'bench/clustered', dim: 512 } });
  const loadMs = performance.now() - t;
  const q = parseNpy(readFileSync(queriesFile), queriesFile);
  const query = (i: number) => q.data.slice(i * q.cols, (i + 1) * q.cols);
  // Two passes over the queries: the first after start (an engine that loads lazily, like LanceDB,
  // reads each IVF partition from disk the first time it is probed), the second in steady state,
  // as a long-running bot serves. Flat and int8 load everything at open, so their passes agree.
  const pass = async () => {
    const latencies: number[] = [];
    const results: string[][] = [];
    for (let i = 0; i < q.rows; i++) {
      const s = performance.now();
      const hits = await index.search(query(i), k);
      latencies.push(performance.now() - s);
      results.push(hits.map((h) => h.id));
    }
    return { latencies, results };
  };
  const cold = await pass();
  const { latencies, results } = await pass();
  out({
    engine,
    loadMs: Math.round(loadMs),
    coldLatencies: cold.latencies,
    latencies,
    results,
    rssMb: mb(process.memoryUsage().rss),
    maxRssMb: mb(process.resourceUsage().maxRSS * 1024),
    baseRssMb: mb(baseRss),
  });
  await index.close();
} else throw new Error(`mode ${mode}?`);
process.exit(0);
