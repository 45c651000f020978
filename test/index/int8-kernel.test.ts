/**
 * The int8 scan's arithmetic (src/index/engines/int8-kernel.ts), value by value: per-dimension
 * scales, symmetric codes clamped to ±127, the query scaled by the per-dimension scales (not divided
 * by them) and the exact integer top-R.
 */
import { describe, expect, it } from 'vitest';
import {
  accumulateMaxAbs,
  int8TopK,
  quantizeQuery,
  quantizeRows,
  scalesFromMaxAbs,
} from '../../src/index/engines/int8-kernel.ts';

describe('int8 kernel', () => {
  it('scales: max |x| / 127 per dimension; an unused, infinite or NaN dimension gets 1', () => {
    const scales = scalesFromMaxAbs(Float32Array.from([127, 2.54, 0, Number.POSITIVE_INFINITY, Number.NaN]));
    expect(Array.from(scales)).toEqual([1, Math.fround(2.54 / 127), 1, 1, 1]);
  });

  it('accumulates the largest magnitude of each dimension over rows, signs ignored', () => {
    const max = new Float32Array(3);
    accumulateMaxAbs(max, Float32Array.from([0.5, -2, 0, -1, 1, 0]));
    expect(Array.from(max)).toEqual([1, 2, 0]);
    accumulateMaxAbs(max, Float32Array.from([0.25, 0.5, -3]));
    expect(Array.from(max)).toEqual([1, 2, 3]);
  });

  it('codes rows with their own dimension’s scale, rounding, and clamps to ±127 (never -128)', () => {
    const scales = Float32Array.from([1 / 127, 2 / 127]);
    const out = quantizeRows(Float32Array.from([1, -2, 0.5, 1, -9, 9]), scales, new Int8Array(6));
    expect(Array.from(out)).toEqual([127, -127, 64, 64, -127, 127]);
  });

  it('the query is multiplied by the scales and spread over the full int8 range', () => {
    // Dimension 0 has 8× the spread of dimension 1: its query weight must be 8× larger, not smaller.
    const q = quantizeQuery(Float32Array.from([0.5, 0.5]), Float32Array.from([8 / 127, 1 / 127]));
    expect(Array.from(q)).toEqual([127, 16]);
    expect(Array.from(quantizeQuery(Float32Array.from([0.3, -0.6]), Float32Array.from([1, 1])))).toEqual([
      64, -127,
    ]);
    expect(Array.from(quantizeQuery(new Float32Array(3), Float32Array.from([1, 1, 1])))).toEqual([0, 0, 0]);
  });

  it('top-R by integer inner product, best first, at most the rows there are', () => {
    const codes = Int8Array.from([1, 0, 0, 1, 5, 5, -3, 0]);
    const { rows, distances } = int8TopK(codes, Int8Array.from([2, 1]), 2, 3, 1);
    expect(Array.from(rows)).toEqual([2, 0, 1]);
    expect(distances).toHaveLength(3);
    expect(Array.from(int8TopK(codes, Int8Array.from([2, 1]), 2, 10, 1).rows)).toEqual([2, 0, 1, 3]);
    expect(int8TopK(codes, Int8Array.from([2, 1]), 2, 0, 1).rows).toHaveLength(0);
    expect(int8TopK(new Int8Array(0), Int8Array.from([2, 1]), 2, 5, 1).rows).toHaveLength(0);
  });
});
