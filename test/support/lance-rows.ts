/**
 * Rows and control-table states for the LanceDB writer and connection tests: deterministic vectors
 * (no two rows alike) and a well-formed manifest / building row to start from.
 */

import { seededRandom } from '../../scripts/fixture-model/graph-builder.ts';
import {
  type BuildingState,
  INDEX_FORMAT,
  INDEX_VERSION,
  type LanceManifest,
} from '../../src/index/engines/lance-format.ts';
import type { StoredEntry } from '../../src/index/format.ts';

/** `n` entries with ids `${prefix}0…` and their row-major vectors (pseudo-random, seeded by `seed`). */
export function rows(
  n: number,
  dim: number,
  prefix = 'r',
  seed = 1,
): { entries: StoredEntry[]; vectors: Float32Array } {
  const entries = Array.from({ length: n }, (_, i) => ({ id: `${prefix}${i}` }));
  const next = seededRandom(seed);
  const vectors = Float32Array.from({ length: n * dim }, () => next() - 0.5);
  return { entries, vectors };
}

export function publishedManifest(over: Partial<LanceManifest> = {}): LanceManifest {
  return {
    format: INDEX_FORMAT,
    version: INDEX_VERSION,
    engine: 'lancedb',
    modelId: 'test-model',
    dim: 4,
    count: 2,
    table: 'imagesearch-live',
    tableVersion: 3,
    previousTable: 'imagesearch-older',
    ann: { type: 'ivf_rq', partitions: 2, bits: 4 },
    hosts: ['images.example'],
    imagesRoot: '/photos',
    source: 'folder /photos',
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-02T00:00:00.000Z',
    ...over,
  };
}

export const building: BuildingState = {
  table: 'imagesearch-staged',
  key: 'npy:abc',
  modelId: 'test-model',
  dim: 4,
  startedAt: '2026-01-03T00:00:00.000Z',
};
