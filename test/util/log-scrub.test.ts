/**
 * Log scrubbing, called directly: exact secret values (registerSecretValues: the minimum length and
 * the longest-first order), Authorization header values, and the walk over logged objects (secret
 * keys, errors, class instances, cycles, depth and width limits). End to end through pino:
 * test/production/secrets.test.ts.
 */
import { describe, expect, it } from 'vitest';
import {
  CENSOR,
  registerSecretValues,
  scrubLogObject,
  scrubSecrets,
  scrubText,
} from '../../src/util/log-scrub.ts';

describe('registerSecretValues', () => {
  it('blanks values of 6 characters or more, and leaves shorter ones (ordinary words) alone', () => {
    registerSecretValues(['qzxw5', 'qzxw6a', undefined, '']);
    expect(scrubText('five qzxw5 six qzxw6a')).toBe(`five qzxw5 six ${CENSOR}`);
  });

  it('blanks a value that contains another one whole, whatever order they were registered in', () => {
    registerSecretValues(['pw-kq7j', 'pw-kq7j-and-more-2']);
    expect(scrubText('a pw-kq7j-and-more-2 b pw-kq7j c')).toBe(`a ${CENSOR} b ${CENSOR} c`);
  });
});

describe('scrubText, Authorization header values', () => {
  it('keeps the scheme word and blanks only the credential', () => {
    expect(scrubText('sent Bearer abcdefgh12345 and Basic dXNlcjpwYXNz')).toBe(
      `sent Bearer ${CENSOR} and Basic ${CENSOR}`,
    );
  });
});

/** Nested `{ a: … }` objects: `levels` of them around `leaf`. */
function nest(levels: number, leaf: unknown): unknown {
  let v = leaf;
  for (let i = 0; i < levels; i++) v = { a: v };
  return v;
}

describe('scrubSecrets', () => {
  it('blanks secret-named keys that hold a value, and keeps empty ones as they are', () => {
    expect(
      scrubSecrets({
        password: 'plain words',
        apiKey: 42,
        nested: { token: undefined, secret: null, cookie: '', promptTokens: 812, note: 'ok' },
      }),
    ).toStrictEqual({
      password: CENSOR,
      apiKey: CENSOR,
      nested: { token: undefined, secret: null, cookie: '', promptTokens: 812, note: 'ok' },
    });
  });

  it('walks arrays and objects without a prototype', () => {
    const bare = Object.assign(Object.create(null) as Record<string, unknown>, {
      password: 'hunter2222',
      list: ['Bearer abcdefgh12345', 7],
    });
    expect(scrubSecrets({ bare })).toEqual({
      bare: { password: CENSOR, list: [`Bearer ${CENSOR}`, 7] },
    });
  });

  it('keeps class instances, Buffers and typed arrays as they are', () => {
    class Point {
      constructor(readonly token: string) {}
    }
    const point = new Point('xoxb-123456-abcdef');
    const buf = Buffer.from('password');
    const floats = new Float32Array([1, 2]);
    const out = scrubSecrets({ point, buf, floats });
    expect(out.point).toBe(point);
    expect(out.buf).toBe(buf);
    expect(out.floats).toBe(floats);
  });

  it('copies an error with its type, message, stack and cause, scrubbed', () => {
    const cause = new TypeError('inner xoxb-123456-abcdef');
    const err = Object.assign(new Error('outer Bearer abcdefgh12345', { cause }), { password: 'pw-123456' });
    const out = scrubSecrets(err) as unknown as Record<string, unknown>;
    expect(out.type).toBe('Error');
    expect(out.message).toBe(`outer Bearer ${CENSOR}`);
    expect(out.stack).toMatch(/^Error: outer Bearer \[redacted\]\n/);
    expect(out.password).toBe(CENSOR);
    expect(out.cause).toMatchObject({ type: 'TypeError', message: `inner ${CENSOR}` });
  });

  it('adds no cause to an error that has none', () => {
    const out = scrubSecrets(new Error('plain')) as unknown as Record<string, unknown>;
    expect(Object.keys(out).sort()).toEqual(['message', 'stack', 'type']);
  });

  it('cuts cycles, but not a value that appears twice', () => {
    const shared = { n: 1 };
    const loop: Record<string, unknown> = { name: 'loop' };
    loop.self = loop;
    loop.list = [loop];
    expect(scrubSecrets({ first: shared, second: shared, loop })).toEqual({
      first: { n: 1 },
      second: { n: 1 },
      loop: { name: 'loop', self: '[circular]', list: ['[circular]'] },
    });
  });

  it('cuts objects nested 8 levels down, and keeps what lies above', () => {
    expect(scrubSecrets(nest(9, 'x'))).toEqual(nest(8, '[deep]'));
    expect(scrubSecrets(nest(8, 'x'))).toEqual(nest(8, 'x'));
  });

  it('counts arrays and error causes as levels too', () => {
    let arrays: unknown = ['x'];
    for (let i = 0; i < 8; i++) arrays = [arrays];
    // Eight arrays around the innermost one: the innermost is at level 8.
    let expectedArrays: unknown = '[deep]';
    for (let i = 0; i < 8; i++) expectedArrays = [expectedArrays];
    expect(scrubSecrets(arrays)).toEqual(expectedArrays);

    let err: unknown = new Error('e8');
    for (let i = 7; i >= 0; i--) err = new Error(`e${i}`, { cause: err });
    let level = scrubSecrets(err) as { message: string; cause: unknown };
    for (let i = 0; i < 7; i++) {
      expect(level.message).toBe(`e${i}`);
      level = level.cause as typeof level;
    }
    expect(level.message).toBe('e7');
    expect(level.cause).toBe('[deep]');
  });

  it('keeps the first 200 keys of an object and the first 200 items of an array', () => {
    const wide = Object.fromEntries(Array.from({ length: 201 }, (_, i) => [`k${i}`, i]));
    const out = scrubSecrets({ wide, long: Array.from({ length: 201 }, (_, i) => i) });
    expect(Object.keys(out.wide)).toHaveLength(200);
    expect(out.wide).not.toHaveProperty('k200');
    expect(out.wide.k199).toBe(199);
    expect(out.long).toHaveLength(200);
    expect(out.long.at(-1)).toBe(199);
  });
});

describe('scrubLogObject', () => {
  it('blanks secret-named top-level keys that hold a value, and scrubs the rest', () => {
    expect(
      scrubLogObject({
        apiKey: 'plain words',
        password: undefined,
        token: null,
        secret: '',
        outputTokens: 9,
        msg: 'Bot abcdefgh12345',
        req: { headers: { authorization: 'x' } },
      }),
    ).toStrictEqual({
      apiKey: CENSOR,
      password: undefined,
      token: null,
      secret: '',
      outputTokens: 9,
      msg: `Bot ${CENSOR}`,
      req: { headers: { authorization: CENSOR } },
    });
  });

  it('leaves an Error under `err` to the err serializer, and copies one under any other key', () => {
    const err = new Error('boom');
    const out = scrubLogObject({ err, error: err });
    expect(out.err).toBe(err);
    expect(out.error).toMatchObject({ type: 'Error', message: 'boom' });
  });
});
