/**
 * IMAGESEARCH_INDEX_DIR / `--out` (src/index/location.ts): local paths, file:// and s3://bucket/prefix,
 * with S3's bucket-name rules; and the secret blanking used on the native client's errors.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { isUri, parseIndexLocation, withoutSecrets } from '../../src/index/location.ts';

describe('index locations', () => {
  it('a path (relative or absolute) or file:// is a local folder, made absolute', () => {
    expect(parseIndexLocation('data/index')).toEqual({
      kind: 'local',
      dir: path.resolve('data/index'),
      uri: path.resolve('data/index'),
    });
    expect(parseIndexLocation('/srv/index')).toEqual({ kind: 'local', dir: '/srv/index', uri: '/srv/index' });
    expect(parseIndexLocation('file:///srv/index')).toEqual({
      kind: 'local',
      dir: '/srv/index',
      uri: '/srv/index',
    });
    expect(parseIndexLocation('FILE:///srv/index').kind).toBe('local');
    expect(isUri('data/index')).toBe(false);
    expect(isUri('C:/index')).toBe(false);
    expect(isUri('s3://b/p')).toBe(true);
    expect(isUri('x+y.z-w://b')).toBe(true);
  });

  it('s3://bucket/prefix: the scheme in any case, slashes tidied, no prefix allowed', () => {
    expect(parseIndexLocation('s3://my-bucket/imagesearch/unsplash/')).toEqual({
      kind: 's3',
      bucket: 'my-bucket',
      prefix: 'imagesearch/unsplash',
      uri: 's3://my-bucket/imagesearch/unsplash',
    });
    expect(parseIndexLocation('S3://my.bucket//a///b')).toEqual({
      kind: 's3',
      bucket: 'my.bucket',
      prefix: 'a/b',
      uri: 's3://my.bucket/a/b',
    });
    expect(parseIndexLocation('s3://abc')).toEqual({
      kind: 's3',
      bucket: 'abc',
      prefix: '',
      uri: 's3://abc',
    });
  });

  it('refuses other schemes and bucket names S3 would refuse, naming the form to write', () => {
    expect(() => parseIndexLocation('gs://bucket/p')).toThrow(/only local folders and s3:\/\/bucket\/prefix/);
    expect(() => parseIndexLocation('https://bucket/p')).toThrow(/only local folders/);
    for (const bad of [
      's3://',
      's3://ab/p',
      's3://My-Bucket/p',
      's3://-bucket/p',
      's3://bucket-/p',
      's3://bu_cket/p',
      `s3://${'a'.repeat(64)}/p`,
    ])
      expect(() => parseIndexLocation(bad), bad).toThrow(
        /is not a valid bucket name \(write s3:\/\/bucket\/prefix\)/,
      );
    expect(() => parseIndexLocation(`s3://${'a'.repeat(63)}/p`)).not.toThrow();
    // The refused name is quoted, so the user sees which part was read as the bucket.
    expect(() => parseIndexLocation('s3://My-Bucket/p')).toThrow('"My-Bucket" is not a valid bucket name');
  });
});

describe('withoutSecrets', () => {
  it('blanks every occurrence of each secret of 4 characters or more', () => {
    expect(withoutSecrets('key AKID1 and AKID1 again, pw hunter2', ['AKID1', 'hunter2'])).toBe(
      'key [redacted] and [redacted] again, pw [redacted]',
    );
    // Shorter values would blank ordinary text; no real credential is that short.
    expect(withoutSecrets('a b abc', ['abc', 'b'])).toBe('a b abc');
    expect(withoutSecrets('abcd', ['abcd'])).toBe('[redacted]');
    expect(withoutSecrets('nothing here', [])).toBe('nothing here');
  });
});
