/**
 * Near-duplicate suppression: a burst of nearly identical shots, or one photo uploaded twice with a
 * crop or a filter, must not fill a grid. Walking the candidates best first, one is kept only when
 * its image embedding is below `threshold` cosine to every candidate already kept and to every photo
 * this conversation already showed ("4 more" must not bring back a near-copy of an earlier pick).
 */
import { DEFAULTS } from '../core/defaults.ts';
import type { Hit } from '../core/types.ts';
import { dot } from '../vector/math.ts';

/**
 * Default cosine above which two photos count as the same shot. Re-encodes and resizes of one photo
 * score ≈ 0.99–1.0 under CLIP image embeddings; a practitioner calibrating CLIP deduplication on
 * burst frames found exposure variants of one scene at 0.98–0.99 and saw "merely similar" photos
 * (same subject, different composition) start to merge at 0.97 (lessons.johnboen.com, "Embedding
 * deduplication for image curation"); common practice spans 0.95–0.99. A grid must not show the same
 * shot twice, but a library of similar shots (products on white, one beach at several moments) must
 * not shrink to one photo either, so the default sits at the calibrated 0.98. Lower it
 * (IMAGESEARCH_NEAR_DUPLICATE) to merge crops and series more eagerly.
 */
export const DEFAULT_NEAR_DUPLICATE_COSINE = DEFAULTS.nearDuplicateCosine;

export interface DistinctOptions {
  /** Cosine at or above which a candidate is a near-duplicate: 1 drops only identical embeddings, above 1 turns suppression off. */
  threshold: number;
  /** Stop once this many distinct candidates are kept. */
  want: number;
  /** Photos already shown in the conversation, with their L2-normalised embeddings. */
  avoid?: ReadonlyArray<{ id: string; vector: Float32Array }>;
}

export interface DistinctResult {
  kept: Hit[];
  /** Candidates skipped, each with the id it duplicates (a kept candidate or a shown photo). */
  dropped: Array<{ id: string; duplicateOf: string }>;
}

/**
 * Keeps candidates in order, skipping near-duplicates. `vectorOf` returns a candidate's stored
 * embedding; a candidate without one is kept (nothing to compare).
 */
export function distinctCandidates(
  hits: readonly Hit[],
  vectorOf: (id: string) => Float32Array | undefined,
  opts: DistinctOptions,
): DistinctResult {
  const kept: Hit[] = [];
  const dropped: DistinctResult['dropped'] = [];
  if (opts.threshold > 1) return { kept: hits.slice(0, opts.want), dropped };
  const seen: Array<{ id: string; vector: Float32Array }> = [...(opts.avoid ?? [])];
  for (const hit of hits) {
    if (kept.length >= opts.want) break;
    const v = vectorOf(hit.id);
    const twin = v
      ? seen.find((k) => k.vector.length === v.length && dot(k.vector, v) >= opts.threshold)
      : undefined;
    if (twin) {
      dropped.push({ id: hit.id, duplicateOf: twin.id });
      continue;
    }
    kept.push(hit);
    if (v) seen.push({ id: hit.id, vector: v });
  }
  return { kept, dropped };
}
