import { describe, expect, it } from 'vitest';
import type { Hit } from '../../src/core/types.ts';
import { distinctCandidates } from '../../src/search/near-duplicates.ts';
import { l2normalize } from '../../src/vector/math.ts';

const vec = (...xs: number[]) => l2normalize(Float32Array.from(xs));
const hit = (id: string, score: number): Hit => ({ id, score, entry: { id } });

// a and a2 are near-copies (cos ≈ 0.995); b is a different shot of a similar scene (cos(a, b) ≈ 0.89).
const vectors: Record<string, Float32Array> = {
  a: vec(1, 0, 0),
  a2: vec(1, 0.1, 0),
  b: vec(1, 0.5, 0),
  c: vec(0, 1, 0),
  d: vec(0, 0, 1),
};
const vectorOf = (id: string) => vectors[id];
const hits = [hit('a', 0.9), hit('a2', 0.89), hit('b', 0.8), hit('c', 0.7), hit('d', 0.6)];

describe('near-duplicate suppression', () => {
  it('skips a candidate too close to a better one already kept, and keeps similar but distinct shots', () => {
    const r = distinctCandidates(hits, vectorOf, { threshold: 0.95, want: 10 });
    expect(r.kept.map((h) => h.id)).toEqual(['a', 'b', 'c', 'd']);
    expect(r.dropped).toEqual([{ id: 'a2', duplicateOf: 'a' }]);
  });

  it('stops once enough distinct candidates are kept', () => {
    expect(distinctCandidates(hits, vectorOf, { threshold: 0.95, want: 2 }).kept.map((h) => h.id)).toEqual([
      'a',
      'b',
    ]);
  });

  it('avoids near-copies of photos the conversation already showed', () => {
    const r = distinctCandidates(hits.slice(1), vectorOf, {
      threshold: 0.95,
      want: 10,
      avoid: [{ id: 'a', vector: vectors.a! }],
    });
    expect(r.kept.map((h) => h.id)).toEqual(['b', 'c', 'd']);
    expect(r.dropped).toEqual([{ id: 'a2', duplicateOf: 'a' }]);
  });

  it('is off above 1, and a lower threshold merges more', () => {
    expect(distinctCandidates(hits, vectorOf, { threshold: 1.01, want: 10 }).kept).toHaveLength(5);
    expect(distinctCandidates(hits, vectorOf, { threshold: 0.85, want: 10 }).kept.map((h) => h.id)).toEqual([
      'a',
      'c',
      'd',
    ]);
  });

  it('keeps candidates it has no vector for, and ignores vectors of another size', () => {
    const r = distinctCandidates([hit('x', 1), hit('a', 0.9)], vectorOf, {
      threshold: 0.95,
      want: 10,
      avoid: [{ id: 'old', vector: vec(1, 0) }],
    });
    expect(r.kept.map((h) => h.id)).toEqual(['x', 'a']);
  });
});
