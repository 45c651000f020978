/**
 * Where an index lives: a local folder, or an object-storage prefix (`s3://bucket/prefix`) that any
 * number of replicas read. Object storage is configured by the standard AWS variables, parsed by the
 * configuration schema and passed to LanceDB as storage options, so behaviour does not depend on which
 * variables the native client happens to read by itself.
 */
import path from 'node:path';
import { ImageSearchError } from '../core/errors.ts';
import { type ObjectStoreSettings, parseObjectStoreEnv } from '../util/config.ts';
import { registerSecretValues } from '../util/log-scrub.ts';

export type IndexLocation =
  | { kind: 'local'; dir: string; uri: string }
  | { kind: 's3'; uri: string; bucket: string; prefix: string };

const SCHEME = /^([a-z][a-z0-9+.-]*):\/\//i;

/** True for `scheme://…` locations (as opposed to local paths). */
export function isUri(raw: string): boolean {
  return SCHEME.test(raw);
}

/** Parses `--out` / `IMAGESEARCH_INDEX_DIR`: a path (made absolute) or `s3://bucket/prefix`. */
export function parseIndexLocation(raw: string): IndexLocation {
  const scheme = SCHEME.exec(raw)?.[1]?.toLowerCase();
  if (!scheme) {
    const dir = path.resolve(raw);
    return { kind: 'local', dir, uri: dir };
  }
  if (scheme === 'file') {
    const dir = path.resolve(raw.slice('file://'.length));
    return { kind: 'local', dir, uri: dir };
  }
  if (scheme !== 's3') {
    throw new ImageSearchError(
      'usage',
      `Index location ${raw}: only local folders and s3://bucket/prefix (S3 or an S3-compatible store) are supported.`,
    );
  }
  const rest = raw.slice('s3://'.length).replace(/\/+$/, '');
  const [bucket, ...parts] = rest.split('/');
  if (!bucket || !/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) {
    throw new ImageSearchError(
      'usage',
      `Index location ${raw}: "${bucket ?? ''}" is not a valid bucket name (write s3://bucket/prefix).`,
    );
  }
  const prefix = parts.filter(Boolean).join('/');
  return { kind: 's3', bucket, prefix, uri: `s3://${bucket}${prefix ? `/${prefix}` : ''}` };
}

export type { ObjectStoreSettings };

/**
 * Storage options for an `s3://` location from the standard AWS variables and IMAGESEARCH_S3_*, as the
 * configuration schema reads them (src/util/config.ts: AWS's precedence, validation, defaults).
 * Their secrets join the log scrubber's list, whichever environment they came from.
 */
export function objectStoreSettings(env: NodeJS.ProcessEnv = process.env): ObjectStoreSettings {
  const settings = parseObjectStoreEnv(env);
  registerSecretValues(settings.secrets);
  return settings;
}

/** `text` with every secret value blanked (an error from the native client may quote its input). */
export function withoutSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) if (s.length >= 4) out = out.split(s).join('[redacted]');
  return out;
}
