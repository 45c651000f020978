/**
 * The flat/int8 folder writer (src/index/engines/local-writer.ts) on real temp folders: the files a
 * commit leaves (content-hashed names, index.json's fields), the int8 codes across more than one
 * read chunk, what is cleaned up and what is kept, staging, resume and discard.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { accumulateMaxAbs, quantizeRows, scalesFromMaxAbs } from '../../src/index/engines/int8-kernel.ts';
import { LocalIndexWriter } from '../../src/index/engines/local-writer.ts';
import type { StoredEntry } from '../../src/index/format.ts';
import { tempDir } from '../support/fixtures.ts';

const sha256 = (bytes: Buffer | Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

function rows(n: number, dim: number, seed = 1): { entries: StoredEntry[]; vectors: Float32Array } {
  const entries = Array.from({ length: n }, (_, i) => ({ id: `img-${seed}-${i}`, path: `p/${i}.jpg` }));
  const vectors = Float32Array.from({ length: n * dim }, (_, k) => Math.sin(k * 0.7 + seed) + 0.01 * seed);
  return { entries, vectors };
}

function normalised(vectors: Float32Array, dim: number): Float32Array {
  const out = vectors.slice();
  for (let o = 0; o < out.length; o += dim) {
    let s = 0;
    for (let d = 0; d < dim; d++) s += out[o + d]! ** 2;
    for (let d = 0; d < dim; d++) out[o + d]! /= Math.sqrt(s);
  }
  return out;
}

function readJson(dir: string): Record<string, unknown> {
  return JSON.parse(readFileSync(path.join(dir, 'index.json'), 'utf8')) as Record<string, unknown>;
}

/** File descriptors this process holds (Linux). */
function openFds(): number {
  return readdirSync('/proc/self/fd').length;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('LocalIndexWriter', () => {
  it('commits content-hashed files and an index.json that says what they hold', async () => {
    const dir = tempDir();
    const dim = 3;
    const w = await LocalIndexWriter.open(dir, { engine: 'flat', modelId: 'clip-x', dim });
    expect(w.engine).toBe('flat');
    expect(w.resumedRows).toBe(0);
    const { entries, vectors } = rows(5, dim);
    const expected = normalised(vectors, dim);
    await w.append(entries.slice(0, 2), vectors.subarray(0, 2 * dim));
    await w.append(entries.slice(2), vectors.subarray(2 * dim));
    const manifest = await w.commit({});

    const names = readdirSync(dir).sort();
    expect(names).toHaveLength(3);
    const vectorsFile = names.find((n) => n.startsWith('vectors-'))!;
    const entriesFile = names.find((n) => n.startsWith('entries-'))!;
    expect(names).toEqual([entriesFile, 'index.json', vectorsFile].sort());
    const vbytes = readFileSync(path.join(dir, vectorsFile));
    const ebytes = readFileSync(path.join(dir, entriesFile));
    expect(vectorsFile).toBe(`vectors-${sha256(vbytes).slice(0, 12)}.f32`);
    expect(entriesFile).toBe(`entries-${sha256(ebytes).slice(0, 12)}.jsonl`);
    expect(new Float32Array(vbytes.buffer, vbytes.byteOffset, vbytes.length / 4)).toEqual(expected);
    expect(ebytes.toString('utf8')).toBe(entries.map((e) => `${JSON.stringify(e)}\n`).join(''));

    const json = readJson(dir);
    expect(json).toEqual({
      format: 'imagesearch-index',
      version: 1,
      modelId: 'clip-x',
      dim,
      count: 5,
      dtype: 'float32',
      vectorsFile,
      entriesFile,
      vectorsSha256: sha256(vbytes),
      engine: 'flat',
      hosts: [],
      createdAt: expect.any(String),
      updatedAt: expect.any(String),
    });
    // What commit returns is exactly what index.json says: no key set to undefined.
    expect(manifest).toStrictEqual(json);
  });

  it('records hosts sorted and once, and imagesRoot / allowAbsolutePaths / source only when given', async () => {
    const dir = tempDir();
    const w = await LocalIndexWriter.open(dir, { engine: 'flat', modelId: 'm', dim: 2 });
    await w.append([{ id: 'a' }], Float32Array.from([3, 4]));
    const manifest = await w.commit({
      hosts: ['images.unsplash.com', 'cdn.example.org', 'images.unsplash.com'],
      imagesRoot: '/photos',
      allowAbsolutePaths: true,
      source: 'folder /photos',
    });
    const json = readJson(dir);
    expect(json.hosts).toEqual(['cdn.example.org', 'images.unsplash.com']);
    expect(json.imagesRoot).toBe('/photos');
    expect(json.allowAbsolutePaths).toBe(true);
    expect(json.source).toBe('folder /photos');
    expect(manifest).toStrictEqual(json);

    const w2 = await LocalIndexWriter.open(dir, { engine: 'flat', modelId: 'm', dim: 2 });
    await w2.append([{ id: 'a' }], Float32Array.from([3, 4]));
    const again = await w2.commit({ allowAbsolutePaths: false });
    expect(Object.keys(readJson(dir))).not.toContain('allowAbsolutePaths');
    expect(again).toStrictEqual(readJson(dir));
  });

  it('keeps createdAt across a second commit while updatedAt moves on', async () => {
    const dir = tempDir();
    const commit = async (seed: number) => {
      const w = await LocalIndexWriter.open(dir, { engine: 'flat', modelId: 'm', dim: 2 });
      const { entries, vectors } = rows(2, 2, seed);
      await w.append(entries, vectors);
      return w.commit({});
    };
    const first = await commit(1);
    await sleep(5);
    const second = await commit(2);
    expect(second.createdAt).toBe(first.createdAt);
    expect(second.updatedAt).not.toBe(first.updatedAt);
    expect(Date.parse(second.updatedAt)).toBeGreaterThan(Date.parse(first.createdAt));
  });

  it('int8: codes and scales from the normalised rows, over more than one read chunk', async () => {
    const dir = tempDir();
    const dim = 4;
    const n = 16384 + 300; // CHUNK_ROWS + a partial chunk
    const { entries, vectors } = rows(n, dim);
    // A dimension whose largest magnitude lies in the second chunk only.
    for (let r = 0; r < n; r++) vectors[r * dim + 3] = r === n - 7 ? 50 : 0.001;
    const expected = normalised(vectors, dim);
    const w = await LocalIndexWriter.open(dir, { engine: 'int8', modelId: 'm', dim });
    await w.append(entries, vectors);
    const before = openFds();
    const manifest = await w.commit({});
    expect(openFds()).toBe(before);

    const maxAbs = new Float32Array(dim);
    accumulateMaxAbs(maxAbs, expected);
    const scales = scalesFromMaxAbs(maxAbs);
    const codes = quantizeRows(expected, scales, new Int8Array(n * dim));
    const codesBytes = new Uint8Array(codes.buffer);
    const codesSha256 = sha256(codesBytes);
    expect(manifest.int8).toEqual({
      codesFile: `codes-${codesSha256.slice(0, 12)}.i8`,
      codesSha256,
      scales: Array.from(scales),
    });
    expect(readFileSync(path.join(dir, manifest.int8!.codesFile)).equals(codesBytes)).toBe(true);
    expect(readdirSync(dir).sort()).toEqual(
      [manifest.int8!.codesFile, manifest.entriesFile, 'index.json', manifest.vectorsFile].sort(),
    );
    expect(readJson(dir)).toStrictEqual(manifest);
    expect(manifest.count).toBe(n);
  });

  it('a staged vectors file cut short is named in the error, and nothing is committed', async () => {
    const dir = tempDir();
    const w = await LocalIndexWriter.open(dir, { engine: 'int8', modelId: 'm', dim: 2 });
    const { entries, vectors } = rows(4, 2);
    await w.append(entries, vectors);
    const staged = path.join(dir, '.staging-write', 'vectors.f32');
    truncateSync(staged, 3 * 2 * 4);
    await expect(w.commit({})).rejects.toThrow(`${staged} is shorter than 4 rows`);
    expect(existsSync(path.join(dir, 'index.json'))).toBe(false);
  });

  it('removes earlier versions, temp files, other staging folders and a replaced LanceDB dataset', async () => {
    const dir = tempDir();
    const commit = async (seed: number, engine: 'flat' | 'int8') => {
      const w = await LocalIndexWriter.open(dir, { engine, modelId: 'm', dim: 2 });
      const { entries, vectors } = rows(3, 2, seed);
      await w.append(entries, vectors);
      return w.commit({});
    };
    await commit(1, 'int8');
    const mk = (name: string, dirWithVersions = false) => {
      if (dirWithVersions) mkdirSync(path.join(dir, name, '_versions'), { recursive: true });
      else if (name.endsWith('/')) mkdirSync(path.join(dir, name), { recursive: true });
      else writeFileSync(path.join(dir, name), 'x');
    };
    // Stale: files of earlier versions and interrupted temp files.
    const stale = ['vectors-0123456789ab.f32', 'entries-0123456789ab.jsonl', 'codes-0123456789ab.i8'];
    for (const name of [...stale, 'codes.tmp-1-abcd', 'index.json.tmp-2']) mk(name);
    // Datasets a LanceDB index left here.
    mk('imagesearch.lance', true);
    mk('imagesearch-images.lance', true);
    mkdirSync(path.join(dir, '.staging-other', 'x'), { recursive: true });
    // Unrelated: kept.
    const kept = [
      'notes.txt',
      'my-vectors-0123.f32',
      'vectors-0123.f32.bak',
      'entries-0123.jsonl.old',
      'codes-xyz.i8',
      'entries-xyz.jsonl',
      'codes-0123.i8.bak',
    ];
    for (const name of kept) mk(name);
    mk('imagesearch-notes.lance/'); // no _versions: not a dataset
    mk('my-imagesearch.lance', true);
    mk('imagesearch.lance.bak', true);

    const manifest = await commit(2, 'int8');
    expect(readdirSync(dir).sort()).toEqual(
      [
        ...kept,
        'imagesearch-notes.lance',
        'my-imagesearch.lance',
        'imagesearch.lance.bak',
        'index.json',
        manifest.vectorsFile,
        manifest.entriesFile,
        manifest.int8!.codesFile,
      ].sort(),
    );
  });

  it('an unkeyed write stages in .staging-write and starts afresh; another write’s staging is dropped', async () => {
    const dir = tempDir();
    mkdirSync(path.join(dir, '.staging-old', 'sub'), { recursive: true });
    const w = await LocalIndexWriter.open(dir, { engine: 'flat', modelId: 'm', dim: 2 });
    expect(readdirSync(dir)).toEqual(['.staging-write']);
    const { entries, vectors } = rows(3, 2);
    await w.append(entries, vectors);
    // Abandoned; the next unkeyed write does not resume it.
    const w2 = await LocalIndexWriter.open(dir, { engine: 'flat', modelId: 'm', dim: 2 });
    expect(w2.resumedRows).toBe(0);
    await w2.append([{ id: 'only' }], Float32Array.from([1, 0]));
    expect((await w2.commit({})).count).toBe(1);
  });

  it('a write with the same resume key keeps the staged rows and appends to them', async () => {
    const dir = tempDir();
    const { entries, vectors } = rows(5, 2);
    const expected = normalised(vectors, 2);
    const w = await LocalIndexWriter.open(dir, { engine: 'flat', modelId: 'm', dim: 2, resumeKey: 'k1' });
    await w.append(entries.slice(0, 3), vectors.slice(0, 6));
    // Interrupted; a write with another key drops k1's rows, the same key resumes them.
    const again = await LocalIndexWriter.open(dir, { engine: 'flat', modelId: 'm', dim: 2, resumeKey: 'k1' });
    expect(again.resumedRows).toBe(3);
    await again.append(entries.slice(3), vectors.slice(6));
    const manifest = await again.commit({});
    expect(manifest.count).toBe(5);
    const vbytes = readFileSync(path.join(dir, manifest.vectorsFile));
    expect(new Float32Array(vbytes.buffer, vbytes.byteOffset, 10)).toEqual(expected);
    expect(readdirSync(dir).some((n) => n.startsWith('.staging-'))).toBe(false);

    const k2 = await LocalIndexWriter.open(dir, { engine: 'flat', modelId: 'm', dim: 2, resumeKey: 'k2' });
    await k2.append(entries.slice(0, 1), vectors.slice(0, 2));
    const other = await LocalIndexWriter.open(dir, { engine: 'flat', modelId: 'm', dim: 2, resumeKey: 'k3' });
    expect(other.resumedRows).toBe(0);
    expect(readdirSync(dir).filter((n) => n.startsWith('.staging-'))).toEqual(['.staging-k3']);
  });

  it('discard drops what was staged and leaves the published index alone', async () => {
    const dir = tempDir();
    const w = await LocalIndexWriter.open(dir, { engine: 'flat', modelId: 'm', dim: 2 });
    await w.append([{ id: 'a' }], Float32Array.from([1, 1]));
    await w.commit({});
    const published = readdirSync(dir).sort();
    const w2 = await LocalIndexWriter.open(dir, { engine: 'flat', modelId: 'm', dim: 2 });
    await w2.append([{ id: 'b' }], Float32Array.from([1, 2]));
    await w2.discard();
    expect(readdirSync(dir).sort()).toEqual(published);
  });

  it('normalises the appended rows in place, and touches nothing when there are no rows', async () => {
    const dir = tempDir();
    const w = await LocalIndexWriter.open(dir, { engine: 'flat', modelId: 'm', dim: 2 });
    const v = Float32Array.from([3, 4, 0, 2]);
    await w.append([{ id: 'a' }, { id: 'b' }], v);
    expect(Array.from(v)).toEqual([Math.fround(0.6), Math.fround(0.8), 0, 1]);
    const untouched = Float32Array.from([3, 4]);
    await w.append([], untouched);
    expect(Array.from(untouched)).toEqual([3, 4]);
    await w.discard();
  });
});
