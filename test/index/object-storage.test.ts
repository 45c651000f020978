/**
 * LanceDB on S3-compatible object storage, against s3rver started here on 127.0.0.1: an index
 * written to s3://bucket/prefix is served from there (library and CLI, every replica reading the
 * same prefix). A misconfigured store's worded failures: object-storage-errors.test.ts.
 */
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mixture } from '../../scripts/bench/clustered.ts';
import { encodeNpy } from '../../src/index/npy.ts';
import { openIndexWriter, openVectorIndex } from '../../src/index/open.ts';
import { loadConfig } from '../../src/util/config.ts';
import { topKPlain } from '../../src/vector/flat-search.ts';
import { REPO_ROOT, tempDir } from '../support/fixtures.ts';
import { getTinyModelDir } from '../support/models.ts';
import { type LocalS3, startLocalS3 } from '../support/s3.ts';

const run = promisify(execFile);
const BIN = path.join(REPO_ROOT, 'bin', 'imagesearch.js');

let s3: LocalS3;
beforeAll(async () => {
  s3 = await startLocalS3();
});
afterAll(async () => {
  await s3?.close();
});

async function cli(args: string[], env: NodeJS.ProcessEnv) {
  const { PATH, HOME, TMPDIR } = process.env;
  try {
    const r = await run(process.execPath, [BIN, ...args], {
      env: { PATH, HOME, TMPDIR, LOG_LEVEL: 'warn', ...env },
      cwd: tempDir(),
      timeout: 90_000,
    });
    return { code: 0, ...r };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: err.code ?? -1, stdout: err.stdout ?? '', stderr: err.stderr ?? '' };
  }
}

describe('LanceDB on object storage (s3rver)', () => {
  it('writes an IVF-RQ index to s3://bucket/prefix and two readers serve it like brute force', async () => {
    const dim = 32;
    const rows = 1500;
    const vectors = mixture(rows, dim, { clusters: 40, sigma: 0.1 });
    const uri = `s3://${s3.bucket}/library/index`;
    const writer = await openIndexWriter(uri, {
      engine: 'lancedb',
      modelId: 'm',
      dim,
      annMinRows: 1000,
      env: s3.env,
    });
    for (let first = 0; first < rows; first += 500) {
      const entries = Array.from({ length: 500 }, (_, i) => ({
        id: `p${first + i}`,
        url: `https://img.example/${first + i}`,
      }));
      await writer.append(entries, vectors.slice(first * dim, (first + 500) * dim));
    }
    expect(await writer.commit({ hosts: ['img.example'] })).toEqual({ count: rows });

    // Two replicas, each with its own connection, read the same published version.
    const [a, b] = await Promise.all([
      openVectorIndex(uri, { expect: { modelId: 'm', dim }, env: s3.env }),
      openVectorIndex(uri, { expect: { modelId: 'm', dim }, env: s3.env }),
    ]);
    try {
      expect(a.engine).toBe('lancedb');
      expect(a.size).toBe(rows);
      const queries = mixture(10, dim, { clusters: 40, sigma: 0.1, seed: 5 });
      let found = 0;
      for (let q = 0; q < 10; q++) {
        const query = queries.slice(q * dim, (q + 1) * dim);
        const truth = new Set(Array.from(topKPlain(vectors, dim, query, 10).indices, (i) => `p${i}`));
        const [ha, hb] = await Promise.all([a.search(query, 10), b.search(query, 10)]);
        expect(hb.map((h) => h.id)).toEqual(ha.map((h) => h.id));
        for (const h of ha) if (truth.has(h.id)) found++;
      }
      expect(found / 100).toBeGreaterThanOrEqual(0.9);
      expect(await a.getEntry('p7')).toEqual({ id: 'p7', url: 'https://img.example/7' });
      expect(Array.from((await b.getVector('p7'))!)).toEqual(
        Array.from(vectors.slice(7 * dim, 8 * dim), (v) => Math.fround(v)),
      );
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('a reader given the configuration’s object-store settings uses them, not its environment', async () => {
    // The index the first test wrote. The environment points at a closed port: only the settings work.
    const uri = `s3://${s3.bucket}/library/index`;
    const config = loadConfig(s3.env);
    const index = await openVectorIndex(uri, {
      expect: { modelId: 'm', dim: 32 },
      env: { AWS_ENDPOINT_URL: 'http://127.0.0.1:9', AWS_ALLOW_HTTP: 'true' },
      objectStore: config.objectStore,
    });
    try {
      expect(index.size).toBe(1500);
    } finally {
      await index.close();
    }
  });

  it('import-npy --out s3://… and search --index s3://… --vector through the CLI', {
    timeout: 240_000,
  }, async () => {
    const dim = 512; // the tiny fixture model's embedding size
    const rows = 200;
    const features = mixture(rows, dim, { clusters: 20, sigma: 0.05, seed: 11 });
    const dir = tempDir();
    writeFileSync(path.join(dir, 'features.npy'), encodeNpy(features, rows, dim));
    writeFileSync(
      path.join(dir, 'photo_ids.csv'),
      `photo_id\n${Array.from({ length: rows }, (_, i) => `ph${i}`).join('\n')}\n`,
    );
    const query = features.slice(42 * dim, 43 * dim);
    writeFileSync(path.join(dir, 'q.npy'), encodeNpy(query, 1, dim));
    const uri = `s3://${s3.bucket}/cli/unsplash`;
    const modelDir = await getTinyModelDir();
    const imported = await cli(
      [
        'import-npy',
        '--features',
        path.join(dir, 'features.npy'),
        '--ids',
        path.join(dir, 'photo_ids.csv'),
        '--model-id',
        'imagesearch-fixture/clip-tiny-seed1',
        '--engine',
        'lancedb',
        '--no-progress',
        '--out',
        uri,
      ],
      s3.env,
    );
    expect(imported.code, imported.stderr).toBe(0);
    expect(imported.stdout).toContain(`Imported ${rows} vectors into ${uri} [lancedb]`);

    const found = await cli(['search', '--vector', path.join(dir, 'q.npy'), '--k', '5', '--json'], {
      ...s3.env,
      IMAGESEARCH_MODEL_DIR: modelDir,
      IMAGESEARCH_INDEX_DIR: uri,
    });
    expect(found.code, found.stderr).toBe(0);
    const json = JSON.parse(found.stdout) as { results: { id: string; score: number }[] };
    const ref = topKPlain(features, dim, query, 5);
    expect(json.results.map((r) => r.id)).toEqual(Array.from(ref.indices, (i) => `ph${i}`));
    expect(json.results[0]!.score).toBeCloseTo(1, 5);
  });
});
