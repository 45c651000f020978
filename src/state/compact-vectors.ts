/**
 * Vectors in stored values, written compactly. A conversation keeps its query vector (and the image
 * side of the query) as plain number arrays, which JSON spells as ~20 characters a dimension: about
 * 10 KB per 512-d vector. Here every array of at least {@link MIN_LENGTH} numbers that are all exact
 * float32 values (what CLIP vectors are) is written as `{"$f32": "<base64 little-endian float32>"}`,
 * 4/3 × 4 bytes a dimension, and read back as the same numbers: lossless by construction. Values
 * written before this (plain arrays) read back unchanged.
 */
import type Keyv from 'keyv';

const MIN_LENGTH = 16;
const TAG = '$f32';

function isFloat32Array(value: unknown[]): value is number[] {
  if (value.length < MIN_LENGTH) return false;
  for (const v of value) if (typeof v !== 'number' || Math.fround(v) !== v) return false;
  return true;
}

/** `value` with its float32 number arrays replaced by tagged base64. */
export function compactVectors(value: unknown): unknown {
  if (Array.isArray(value)) {
    if (isFloat32Array(value)) {
      const bytes = Buffer.from(Float32Array.from(value).buffer);
      return { [TAG]: bytes.toString('base64') };
    }
    return value.map(compactVectors);
  }
  if (value && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = compactVectors(v);
    return out;
  }
  return value;
}

/** The inverse of {@link compactVectors}. */
export function expandVectors(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(expandVectors);
  if (value && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    const entries = Object.entries(value);
    const [only] = entries;
    if (entries.length === 1 && only?.[0] === TAG && typeof only[1] === 'string') {
      const bytes = Buffer.from(only[1], 'base64');
      const floats = new Float32Array(bytes.buffer, bytes.byteOffset, Math.floor(bytes.length / 4));
      return Array.from(floats.slice());
    }
    const out: Record<string, unknown> = {};
    for (const [k, v] of entries) out[k] = expandVectors(v);
    return out;
  }
  return value;
}

/** Wraps `keyv`'s own (de)serializer so stored vectors are compact; everything else is as it was. */
export function withCompactVectors(keyv: Keyv): Keyv {
  const serialize = keyv.serialize;
  const deserialize = keyv.deserialize;
  if (!serialize || !deserialize) return keyv;
  keyv.serialize = (data) => serialize(compactVectors(data) as typeof data);
  keyv.deserialize = async <Value>(text: string) => {
    const data = await deserialize<Value>(text);
    return data === undefined ? undefined : (expandVectors(data) as typeof data);
  };
  return keyv;
}
