/**
 * Query-vector arithmetic for refinements. All inputs and outputs are L2-normalised CLIP vectors.
 *
 * Weights (chosen so one step steers without losing the topic; see src/conversation/README.md):
 * - "more like N": `normalize(0.7·image_N + 0.3·text)`. Image–image cosines in CLIP are much larger
 *   than text–image ones, so even 0.7 lets the picked image dominate; the 0.3 of text keeps the
 *   subject when the image has a busy background.
 * - "without X": `q ← normalize(q − 0.5·embed(X))`, once per negative term. With a typical
 *   text–text cosine of 0.8 this keeps ~0.9 similarity to the query while cutting its similarity to X
 *   to ~0.45, which pushes images of X down without flipping the query into "anti-X".
 */

import { ImageSearchError } from '../core/errors.ts';
import type { SearchQuery } from '../core/types.ts';
import { dot, l2normalize } from '../vector/math.ts';

/** Weight of the image side (uploaded image or "more like N" pick) when blended with text. */
export const ANCHOR_WEIGHT = 0.7;
/** Weight of the text side in that blend. */
export const TEXT_WEIGHT = 1 - ANCHOR_WEIGHT;
/** How much of each negative term's embedding is subtracted. */
export const NEGATIVE_WEIGHT = 0.5;

/** A normalised copy (a zero vector, e.g. a negative equal to the query, is returned as it is). */
export function normalize(v: Float32Array): Float32Array {
  return l2normalize(Float32Array.from(v));
}

/** `normalize(a·wa + b·wb)`. Vectors must have the same length. */
export function blend(a: Float32Array, wa: number, b: Float32Array, wb: number): Float32Array {
  if (a.length !== b.length) throw new Error(`vector length mismatch: ${a.length} vs ${b.length}`);
  return l2normalize(Float32Array.from(a, (x, i) => x * wa + b[i]! * wb));
}

/** `normalize(q − w·n)`; when that would cancel out (q ≈ w·n), the query is kept unchanged. */
export function subtract(q: Float32Array, n: Float32Array, w = NEGATIVE_WEIGHT): Float32Array {
  const out = blend(q, 1, n, -w);
  let sum = 0;
  for (const x of out) sum += x * x;
  // Stryker disable next-line EqualityOperator: a normalised vector's squared length is 1, or 0 when nothing is left
  return sum > 0.5 ? out : q;
}

/** Cosine of two L2-normalised vectors: their dot product. */
export const cosine = dot;

/** The effective query: image side and text side blended, then each negative subtracted. */
export function effectiveVector(parts: {
  text?: Float32Array | undefined;
  anchor?: Float32Array | undefined;
  negatives?: readonly Float32Array[];
}): Float32Array | undefined {
  const { text, anchor } = parts;
  let q = anchor && text ? blend(anchor, ANCHOR_WEIGHT, text, TEXT_WEIGHT) : (anchor ?? text);
  if (!q) return undefined;
  for (const n of parts.negatives ?? []) q = subtract(q, n);
  return q;
}

/** How a query's parts become vectors: the pipeline's CLIP encoders (cached), or a test's. */
export interface QueryEncoders {
  text(words: string): Promise<Float32Array>;
  image(bytes: Buffer): Promise<Float32Array>;
}

/**
 * A search query as one embedding: the image side (an upload encoded, else the anchor) blended with
 * the text side (`clipText`, else `text`), then each negative subtracted. A ready `vector` is taken
 * as it is. `imageVector` is the upload's own embedding, which a conversation keeps as its image side.
 */
export async function encodeQuery(
  query: SearchQuery,
  encoders: QueryEncoders,
): Promise<{ vector: Float32Array; imageVector?: Float32Array }> {
  if (query.vector) return { vector: query.vector };
  const imageVector = query.image ? await encoders.image(query.image) : undefined;
  const words = query.clipText ?? query.text;
  const text = words ? await encoders.text(words) : undefined;
  let anchor = imageVector ?? query.anchor;
  // An anchor from a previous model (different size) cannot be blended: drop it rather than fail.
  if (anchor && text && anchor.length !== text.length) anchor = undefined;
  const negatives = await Promise.all((query.negatives ?? []).map((n) => encoders.text(n)));
  const vector = effectiveVector({ text, anchor, negatives });
  if (!vector) throw new ImageSearchError('query_invalid', 'Tell me what to look for.');
  return imageVector ? { vector, imageVector } : { vector };
}
