/**
 * A misconfigured object store fails at start naming the URI and the variables to check, never the
 * secret: real LanceDB against s3rver on 127.0.0.1 (a wrong key id, a missing bucket, an unreachable
 * endpoint, plain http not allowed). Its own file because the unreachable case waits out LanceDB's
 * connection retries (~30 s): the mutation run leaves it out (config/mutation/vitest.config.ts), and
 * test/index/lance-connect.test.ts words each reason without the wait.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImageSearchError } from '../../src/core/errors.ts';
import { openVectorIndex } from '../../src/index/open.ts';
import { type LocalS3, startLocalS3 } from '../support/s3.ts';

let s3: LocalS3;
beforeAll(async () => {
  s3 = await startLocalS3();
});
afterAll(async () => {
  await s3?.close();
});

describe('LanceDB on object storage (s3rver), misconfigured', () => {
  it('a misconfigured store fails at start naming the URI and the variables, never the secret', {
    timeout: 120_000,
  }, async () => {
    const uri = `s3://${s3.bucket}/library/index`;
    const attempt = (env: NodeJS.ProcessEnv, where = uri) =>
      openVectorIndex(where, { env }).then(
        () => undefined,
        (e: unknown) => e as ImageSearchError,
      );

    // s3rver checks the key id (not the signature): an unknown id with a secret that must not leak.
    const refused = await attempt({
      ...s3.env,
      AWS_ACCESS_KEY_ID: 'AKIAUNKNOWNKEY000000',
      AWS_SECRET_ACCESS_KEY: 'not-the-secret-value',
    });
    expect(refused).toBeInstanceOf(ImageSearchError);
    expect(refused?.userMessage).toContain(uri);
    expect(refused?.userMessage).toMatch(/refused the credentials.*AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY/);
    expect(JSON.stringify({ m: refused?.message, c: String(refused?.cause) })).not.toContain(
      'not-the-secret-value',
    );

    const noBucket = await attempt(s3.env, 's3://no-such-bucket/index');
    expect(noBucket?.userMessage).toMatch(
      /s3:\/\/no-such-bucket\/index.*(bucket does not exist|store returned an error|no index)/i,
    );

    const started = Date.now();
    const unreachable = await attempt({ ...s3.env, AWS_ENDPOINT_URL: 'http://127.0.0.1:9' });
    expect(unreachable?.userMessage).toMatch(/cannot be reached.*AWS_ENDPOINT_URL/);
    expect(Date.now() - started).toBeLessThan(30_000);

    const { AWS_ALLOW_HTTP: _, ...noHttp } = s3.env;
    const httpRefused = await attempt(noHttp);
    expect(httpRefused?.userMessage).toContain('AWS_ALLOW_HTTP');
  });
});
