/**
 * `imagesearch eval` end to end: the real program over the tiny fixture model and index. Expected
 * metrics are computed by hand from a CLIP ranking this test makes itself (brute-force cosine over
 * the index's vectors), so the command's pipeline, its ordering and its arithmetic are all checked.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClipModel } from '../../src/clip/clip-model.ts';
import { FlatVectorIndex } from '../../src/index/vector-index.ts';
import { silentLogger } from '../../src/util/logger.ts';
import { dot } from '../../src/vector/math.ts';
import { type GeminiPeer, startGeminiPeer } from '../peers/gemini-peer.ts';
import { keywordsTsv } from '../peers/unsplash-fixture.ts';
import { cliEnv, expectFriendlyError, runCli } from '../support/cli.ts';
import { tempDir } from '../support/fixtures.ts';
import { getSmallIndexDir, getTinyModelDir } from '../support/models.ts';

let env: NodeJS.ProcessEnv;
const cli = (args: string[], extra: NodeJS.ProcessEnv = {}) => runCli(args, { ...env, ...extra });

/** CLIP order for a query, computed here: cosine of the query embedding with every indexed photo. */
const ranking: Record<string, string[]> = {};
const QUERIES = ['a photo of a cat', 'rocket launch'];

beforeAll(async () => {
  env = await cliEnv();
  const model = await ClipModel.load({ dir: await getTinyModelDir(), logger: silentLogger() });
  const index = await FlatVectorIndex.load(await getSmallIndexDir(), {
    expect: { modelId: model.modelId, dim: model.dim },
  });
  const ids = (await index.search(new Float32Array(model.dim).fill(1), index.size)).map((h) => h.id);
  const vectors = new Map<string, Float32Array>();
  for (const id of ids) vectors.set(id, (await index.getVector(id))!);
  for (const q of QUERIES) {
    const [v] = await model.embedTexts([q]);
    ranking[q] = [...ids].sort((a, b) => dot(v!, vectors.get(b)!) - dot(v!, vectors.get(a)!));
  }
  await index.close();
  await model.close();
});

function queriesFile(lines: unknown[]): string {
  const file = path.join(tempDir(), 'queries.jsonl');
  writeFileSync(file, `${lines.map((l) => JSON.stringify(l)).join('\n')}\n`);
  return file;
}

const log2 = Math.log2;

describe('imagesearch eval --queries', () => {
  it('scores CLIP order exactly as computed by hand', async () => {
    const cat = ranking['a photo of a cat']!;
    const rocket = ranking['rocket launch']!;
    const file = queriesFile([
      // Relevant at CLIP ranks 1, 3 and 7, plus an id the index does not hold.
      { query: 'a photo of a cat', relevant: [cat[0], cat[2], cat[6], 'not-in-the-index.jpg'] },
      // Relevant only at rank 5: outside the grid, inside the 10.
      { query: 'rocket launch', relevant: [rocket[4]] },
    ]);
    const r = await cli(['eval', '--queries', file, '--no-rerank', '--json', '--no-progress']);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as {
      queries: number;
      metrics: Record<string, number>;
      perQuery: Array<Record<string, number | string | string[]>>;
    };
    const q1 = {
      'p@4': 2 / 4,
      'r@10': 3 / 4,
      'ndcg@4': (1 + 1 / log2(4)) / (1 + 1 / log2(3) + 1 / log2(4) + 1 / log2(5)),
      mrr: 1,
    };
    const q2 = { 'p@4': 0, 'r@10': 1, 'ndcg@4': 0, mrr: 1 / 5 };
    expect(out.queries).toBe(2);
    for (const [got, want] of [
      [out.perQuery[0]!, q1],
      [out.perQuery[1]!, q2],
    ] as const)
      for (const [k, v] of Object.entries(want)) expect(got[k]).toBeCloseTo(v, 4);
    for (const k of Object.keys(q1) as Array<keyof typeof q1>)
      expect(out.metrics[k]).toBeCloseTo((q1[k] + q2[k]) / 2, 4);
    // The ids scored are the grid's picks then the rest, in CLIP order (no reranker here).
    expect(out.perQuery[0]!.ids).toEqual(cat.slice(0, 10));
    expect(r.stderr).toContain('1 of 5 relevant ids are not in this index');
  });

  it('prints a table with the means and the worst queries', async () => {
    const rocket = ranking['rocket launch']!;
    const file = queriesFile([
      { query: 'rocket launch', relevant: [rocket[0]] },
      { query: 'a photo of a cat', relevant: ['not-there.png'] },
    ]);
    const r = await cli(['eval', '--queries', file, '--no-rerank', '--no-progress']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/2 queries/);
    expect(r.stdout).toMatch(/CLIP only\s+0\.125\s+0\.500\s+0\.500\s+0\.500/);
    expect(r.stdout).toMatch(/Worst queries \(CLIP only\):\n {2}a photo of a cat/);
    expect(r.stderr).toMatch(/These queries can only score 0: “a photo of a cat”/);
  });

  it('refuses bad input with one friendly line', async () => {
    expectFriendlyError(await cli(['eval', '--no-progress']), /Give exactly one of --queries/, 2);
    expectFriendlyError(
      await cli(['eval', '--queries', path.join(tempDir(), 'missing.jsonl')]),
      /Cannot read/,
      2,
    );
    const bad = queriesFile([{ query: 'cats', relevant: ['a'] }, { query: 'dogs' }]);
    expectFriendlyError(await cli(['eval', '--queries', bad]), /line 2: "relevant"/, 2);
    expectFriendlyError(
      await cli(['eval', '--queries', bad, '--compare']),
      /--compare needs GEMINI_API_KEY/,
      2,
    );
  });
});

describe('imagesearch eval with Gemini', () => {
  let peer: GeminiPeer;
  beforeAll(async () => {
    peer = await startGeminiPeer({ mode: 'success' });
  });
  afterAll(async () => {
    await peer.close();
  });

  it('--compare reports CLIP order and Gemini’s picks side by side', async () => {
    const cat = ranking['a photo of a cat']!;
    // Gemini (the peer) picks the candidates in reverse order: 10, 9, 8, 7.
    const file = queriesFile([{ query: 'a photo of a cat', relevant: [cat[9]] }]);
    const gem = { GEMINI_API_KEY: 'test-key-not-secret', GEMINI_BASE_URL: peer.url };
    const r = await cli(['eval', '--queries', file, '--compare', '--json', '--no-progress'], gem);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as Record<
      'clip' | 'reranked',
      { metrics: Record<string, number>; perQuery: Array<{ ids: string[] }> }
    >;
    expect(out.clip.metrics).toMatchObject({ 'p@4': 0, mrr: 0.1 });
    expect(out.reranked.metrics).toMatchObject({ 'p@4': 0.25, 'ndcg@4': 1, mrr: 1 });
    expect(out.reranked.perQuery[0]!.ids.slice(0, 4)).toEqual([cat[9], cat[8], cat[7], cat[6]]);
    expect(out.reranked).toMatchObject({ rankedBy: { gemini: 1, clip: 0 } });
    expect(r.stdout).not.toContain('test-key-not-secret');
  });
});

describe('imagesearch eval --from-unsplash-keywords', () => {
  it('builds the labelled set from keywords.tsv files, saves it, and scores it', async () => {
    const cat = ranking['a photo of a cat']!;
    const dir = tempDir('imagesearch-kw-');
    writeFileSync(
      path.join(dir, 'keywords.tsv000'),
      keywordsTsv([
        { photoId: cat[0]!, keyword: 'Cat', ai1: 91.5 },
        { photoId: cat[1]!, keyword: 'cat', user: true },
        { photoId: cat[2]!, keyword: 'cat', ai2: 30 },
        { photoId: 'photo-not-indexed', keyword: 'cat', ai1: 99 },
        { photoId: cat[3]!, keyword: 'lonely keyword', ai1: 99 },
      ]),
    );
    const saved = path.join(tempDir(), 'set.jsonl');
    const r = await cli([
      'eval',
      '--from-unsplash-keywords',
      '--keywords',
      dir,
      '--per-keyword-min',
      '2',
      '--save',
      saved,
      '--no-rerank',
      '--json',
      '--no-progress',
    ]);
    expect(r.code).toBe(0);
    // "cat": the confident AI tag and the person's tag; not the 30 % one, not the photo outside the index.
    const set = readFileSync(saved, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(set).toEqual([{ query: 'cat', relevant: [cat[0], cat[1]].sort() }]);
    const out = JSON.parse(r.stdout) as { queries: number; perQuery: Array<{ query: string }> };
    expect(out.queries).toBe(1);
    expect(out.perQuery[0]!.query).toBe('cat');
  });

  it('says what to run when setup has not kept a keywords file', async () => {
    expectFriendlyError(
      await cli(['eval', '--from-unsplash-keywords', '--keywords', tempDir()]),
      /No keywords.tsv files in .*npx imagesearch setup/,
      2,
    );
  });
});
