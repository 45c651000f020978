/**
 * A local S3-compatible server for object-storage tests: s3rver (npm) on 127.0.0.1, a random port,
 * a fresh folder, one bucket. Its single account is S3RVER / S3RVER, and it checks signatures, so a
 * wrong secret really is refused.
 */
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { tempDir } from './fixtures.ts';

interface S3rverInstance {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
}
type S3rverClass = new (opts: {
  address: string;
  port: number;
  silent: boolean;
  directory: string;
  configureBuckets: { name: string }[];
}) => S3rverInstance;

const S3rver = createRequire(import.meta.url)('s3rver') as S3rverClass;

export interface LocalS3 {
  endpoint: string;
  bucket: string;
  /** The standard variables pointing at this server. */
  env: NodeJS.ProcessEnv;
  close(): Promise<void>;
}

export async function startLocalS3(bucket = 'imagesearch-test'): Promise<LocalS3> {
  const server = new S3rver({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory: tempDir('imagesearch-s3-'),
    configureBuckets: [{ name: bucket }],
  });
  const { port } = await server.run();
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    endpoint,
    bucket,
    env: {
      AWS_ENDPOINT_URL: endpoint,
      AWS_ACCESS_KEY_ID: 'S3RVER',
      AWS_SECRET_ACCESS_KEY: 'S3RVER',
      AWS_REGION: 'us-east-1',
      AWS_ALLOW_HTTP: 'true',
    },
    close: () => server.close(),
  };
}
