/**
 * A small LanceDB index in a temp folder, written and opened through the project's own
 * LanceIndexWriter / LanceVectorIndex (no ANN index below annMinRows: LanceDB scans exactly).
 */
import { LanceVectorIndex } from '../../src/index/engines/lance-index.ts';
import { LanceIndexWriter } from '../../src/index/engines/lance-writer.ts';
import type { StoredEntry } from '../../src/index/format.ts';
import { parseIndexLocation } from '../../src/index/location.ts';
import { tempDir } from './fixtures.ts';

/** Builds an index of `entries` (vectors row-major, copied: the writer normalises in place); returns its folder. */
export async function buildLance(
  entries: readonly StoredEntry[],
  vectors: Float32Array,
  dim: number,
  dir = tempDir('imagesearch-lance-'),
): Promise<string> {
  const writer = await LanceIndexWriter.open(parseIndexLocation(dir), { modelId: 'm', dim, mode: 'replace' });
  await writer.append(entries, vectors.slice());
  await writer.commit({});
  return dir;
}

export function openLance(dir: string, opts: Parameters<typeof LanceVectorIndex.open>[1] = {}) {
  return LanceVectorIndex.open(parseIndexLocation(dir), opts);
}
