/**
 * The int8 scan: per-dimension symmetric quantisation and an exact integer top-R over int8 rows.
 *
 * Why these choices (measured on this 2-core machine, 1M × 512 clustered vectors, same run;
 * docs/scale.md has the table): usearch's `exactSearch` over Int8Array with the inner-product
 * metric scanned 1M rows in ~22 ms against ~160 ms for onnxruntime's fp32 Gemm+TopK; onnxruntime
 * MatMulInteger (~200 ms: its int8 GEMM is not built for a one-column product), Cast+MatMul over
 * dequantised blocks (~165 ms) and simsimd called once per row (~95 ms, N-API call overhead) were no
 * faster than fp32.
 *
 * Per-dimension scales (not per-row) keep one global ranking scale, so an integer dot product ranks
 * rows directly: x·q ≈ Σ_d (s_d c_nd) q_d = Σ_d c_nd (s_d q_d), and the query side s∘q is quantised
 * once per query. CLIP embeddings have a few large-magnitude dimensions; a per-dimension scale gives
 * each of them its own range instead of letting them squash a whole row's precision.
 */
import usearch from 'usearch';

/** Largest code magnitude: symmetric, so -127…127 (never -128). */
const QMAX = 127;

/** Per-dimension scales from the largest magnitude seen in each dimension (0 → 1, an unused dim). */
export function scalesFromMaxAbs(maxAbs: Float32Array): Float32Array {
  return Float32Array.from(maxAbs, (m) => (m > 0 && Number.isFinite(m) ? m / QMAX : 1));
}

/** Updates running per-dimension max |x| with `rows` (row-major, dim columns). */
export function accumulateMaxAbs(maxAbs: Float32Array, rows: Float32Array): void {
  const dim = maxAbs.length;
  // Stryker disable next-line EqualityOperator: one pass more reads past the rows (undefined → NaN, never larger)
  for (let o = 0; o < rows.length; o += dim) {
    // Stryker disable next-line EqualityOperator: d = dim compares with maxAbs[dim] (undefined): never larger
    for (let d = 0; d < dim; d++) {
      const a = Math.abs(rows[o + d]!);
      // Stryker disable next-line EqualityOperator: an equal value leaves the same maximum
      if (a > maxAbs[d]!) maxAbs[d] = a;
    }
  }
}

/** Quantises rows (row-major) with per-dimension scales into `out` (same length). */
export function quantizeRows(rows: Float32Array, scales: Float32Array, out: Int8Array): Int8Array {
  const dim = scales.length;
  const inv = Float32Array.from(scales, (s) => 1 / s);
  // Stryker disable next-line EqualityOperator: one pass more writes past the typed array, which ignores it
  for (let o = 0; o < rows.length; o += dim) {
    // Stryker disable next-line EqualityOperator: d = dim writes the next row's first code, which that row then overwrites
    for (let d = 0; d < dim; d++) {
      const v = Math.round(rows[o + d]! * inv[d]!);
      out[o + d] = Math.min(QMAX, Math.max(-QMAX, v));
    }
  }
  return out;
}

/** The query side: s∘q scaled to the full int8 range (its own scale does not change the ranking). */
export function quantizeQuery(query: Float32Array, scales: Float32Array): Int8Array {
  const scaled = Float32Array.from(query, (v, d) => v * scales[d]!);
  let max = 0;
  for (const v of scaled) max = Math.max(max, Math.abs(v));
  // Stryker disable next-line ConditionalExpression,EqualityOperator: an all-zero query gives 0 · ∞ = NaN codes, which an Int8Array stores as 0: the same zero codes
  const k = max > 0 ? QMAX / max : 0;
  return Int8Array.from(scaled, (v) => Math.round(v * k));
}

/**
 * Top `count` rows of `codes` (rows × dim) by integer inner product with `query`, best first.
 * Returns row numbers within `codes`. Synchronous: ~22 ms per million 512-d rows on this machine.
 */
export function int8TopK(
  codes: Int8Array,
  query: Int8Array,
  dim: number,
  count: number,
  threads: number,
): { rows: Int32Array; distances: Float32Array } {
  const n = codes.length / dim;
  const kk = Math.min(count, n);
  if (kk <= 0) return { rows: new Int32Array(0), distances: new Float32Array(0) };
  const m = usearch.exactSearch(codes, query, dim, kk, usearch.MetricKind.IP, threads) as {
    keys: BigUint64Array;
    distances: Float32Array;
  };
  return { rows: Int32Array.from(m.keys, Number), distances: m.distances };
}
