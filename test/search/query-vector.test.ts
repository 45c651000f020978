import { describe, expect, it } from 'vitest';
import {
  ANCHOR_WEIGHT,
  blend,
  cosine,
  effectiveVector,
  NEGATIVE_WEIGHT,
  normalize,
  subtract,
} from '../../src/search/query-vector.ts';

const v = (...xs: number[]) => normalize(Float32Array.from(xs));
const norm = (x: Float32Array) => Math.sqrt(cosine(x, x));

describe('query vector arithmetic', () => {
  it('documented weights', () => {
    expect(ANCHOR_WEIGHT).toBe(0.7);
    expect(NEGATIVE_WEIGHT).toBe(0.5);
  });

  it('blend is normalised and leans to the heavier side', () => {
    const a = v(1, 0, 0);
    const b = v(0, 1, 0);
    const m = blend(a, 0.7, b, 0.3);
    expect(norm(m)).toBeCloseTo(1, 5);
    expect(cosine(m, a)).toBeGreaterThan(cosine(m, b));
  });

  it('blend is normalize(a·wa + b·wb), each side weighted as given', () => {
    const m = blend(v(1, 0, 0), 0.7, v(0, 1, 0), 0.3);
    const expected = [0.7, 0.3, 0].map((x) => x / Math.hypot(0.7, 0.3));
    expect(Array.from(m).map((x) => Number(x.toFixed(6)))).toEqual(expected.map((x) => Number(x.toFixed(6))));
    // The query side of a negative: q − 0.5·n, normalised.
    const s = subtract(v(1, 0, 0), v(0, 1, 0));
    const expectedS = [1, -0.5, 0].map((x) => x / Math.hypot(1, 0.5));
    expect(Array.from(s).map((x) => Number(x.toFixed(6)))).toEqual(
      expectedS.map((x) => Number(x.toFixed(6))),
    );
  });

  it('subtract lowers similarity to the negative and stays close to the query', () => {
    const q = v(1, 0.2, 0);
    const n = v(0.8, 0.6, 0);
    const out = subtract(q, n);
    expect(norm(out)).toBeCloseTo(1, 5);
    expect(cosine(out, n)).toBeLessThan(cosine(q, n));
    expect(cosine(out, q)).toBeGreaterThan(0.8);
  });

  it('subtracting a term equal to the query keeps a direction', () => {
    const q = v(1, 0, 0);
    const out = subtract(q, q, 1);
    expect(out).toEqual(q);
  });

  it('effectiveVector: text only, anchor only, both, negatives', () => {
    const t = v(1, 0, 0);
    const a = v(0, 1, 0);
    const n = v(0, 0, 1);
    expect(effectiveVector({})).toBeUndefined();
    expect(effectiveVector({ text: t })).toEqual(t);
    expect(effectiveVector({ anchor: a })).toEqual(a);
    const both = effectiveVector({ text: t, anchor: a });
    expect(both && cosine(both, a)).toBeGreaterThan(both ? cosine(both, t) : 1);
    const withNeg = effectiveVector({ text: v(1, 0, 0.5), negatives: [n] });
    expect(withNeg && cosine(withNeg, n)).toBeLessThan(cosine(v(1, 0, 0.5), n));
  });

  it('blend rejects mismatched lengths', () => {
    expect(() => blend(v(1, 0), 1, v(1, 0, 0), 1)).toThrow(/mismatch/);
  });
});
