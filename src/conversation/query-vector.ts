/**
 * Query-vector arithmetic for refinements. All inputs and outputs are L2-normalised CLIP vectors.
 *
 * Weights (chosen so one step steers without losing the topic; see ./README.md):
 * - "more like N": `normalize(0.7·image_N + 0.3·text)`. Image–image cosines in CLIP are much larger
 *   than text–image ones, so even 0.7 lets the picked image dominate; the 0.3 of text keeps the
 *   subject when the image has a busy background.
 * - "without X": `q ← normalize(q − 0.5·embed(X))`, once per negative term. With a typical
 *   text–text cosine of 0.8 this keeps ~0.9 similarity to the query while cutting its similarity to X
 *   to ~0.45, which pushes images of X down without flipping the query into "anti-X".
 */

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
  const out = new Float32Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = (a[i] ?? 0) * wa + (b[i] ?? 0) * wb;
  return normalize(out);
}

/** `normalize(q − w·n)`; when that would cancel out (q ≈ w·n), the query is kept unchanged. */
export function subtract(q: Float32Array, n: Float32Array, w = NEGATIVE_WEIGHT): Float32Array {
  const out = blend(q, 1, n, -w);
  let sum = 0;
  for (const x of out) sum += x * x;
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
