/**
 * Where an index lives: a local folder, or an object-storage prefix (`s3://bucket/prefix`) that any
 * number of replicas read. Object storage is configured by the standard AWS variables, read here
 * once and passed to LanceDB as storage options, so behaviour does not depend on which variables the
 * native client happens to read by itself.
 */
import path from 'node:path';
import { ImageSearchError } from '../core/errors.ts';

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

/** Object-storage settings taken from the environment (secrets included: never log this object). */
export interface ObjectStoreSettings {
  /** LanceDB / object_store storage options. */
  options: Record<string, string>;
  /** The variables that shape the connection, for error messages (values never included). */
  variables: string[];
  /** Values that must never appear in a message or log line. */
  secrets: string[];
  endpoint?: string;
}

const TRUE = /^(1|true|yes|on)$/i;

/**
 * Storage options for an `s3://` location from the standard variables: `AWS_ENDPOINT_URL` (an
 * S3-compatible store such as MinIO), `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
 * `AWS_SESSION_TOKEN`, `AWS_REGION`, and `AWS_ALLOW_HTTP=true` to permit a plain-http endpoint.
 */
export function objectStoreSettings(env: NodeJS.ProcessEnv = process.env): ObjectStoreSettings {
  const options: Record<string, string> = {
    // Fail within seconds, not after object_store's default three minutes of retries: a
    // misconfigured bucket must stop `serve` at start with a message, not hang it.
    connect_timeout: env.IMAGESEARCH_S3_CONNECT_TIMEOUT ?? '5s',
    timeout: env.IMAGESEARCH_S3_TIMEOUT ?? '30s',
    client_max_retries: env.IMAGESEARCH_S3_MAX_RETRIES ?? '2',
    client_retry_timeout: env.IMAGESEARCH_S3_RETRY_TIMEOUT ?? '10',
  };
  const variables: string[] = [];
  const secrets: string[] = [];
  const set = (variable: string, option: string, secret = false) => {
    const v = env[variable];
    if (v === undefined || v === '') return;
    options[option] = v;
    if (secret) secrets.push(v);
  };
  const endpoint = env.AWS_ENDPOINT_URL ?? env.AWS_ENDPOINT_URL_S3;
  if (endpoint) {
    options.aws_endpoint = endpoint;
    // S3-compatible stores on a host:port have no per-bucket DNS names: address buckets by path
    // unless told otherwise (AWS_VIRTUAL_HOSTED_STYLE_REQUEST=true).
    options.aws_virtual_hosted_style_request = TRUE.test(env.AWS_VIRTUAL_HOSTED_STYLE_REQUEST ?? '')
      ? 'true'
      : 'false';
    variables.push('AWS_ENDPOINT_URL');
  }
  set('AWS_ACCESS_KEY_ID', 'aws_access_key_id', true);
  set('AWS_SECRET_ACCESS_KEY', 'aws_secret_access_key', true);
  set('AWS_SESSION_TOKEN', 'aws_session_token', true);
  variables.push('AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY');
  const region = env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
  if (region) options.aws_region = region;
  variables.push('AWS_REGION');
  if (TRUE.test(env.AWS_ALLOW_HTTP ?? '')) options.allow_http = 'true';
  if (endpoint?.startsWith('http://')) variables.push('AWS_ALLOW_HTTP=true (a plain-http endpoint)');
  const out: ObjectStoreSettings = { options, variables, secrets };
  if (endpoint) out.endpoint = endpoint;
  return out;
}

/** `text` with every secret value blanked (an error from the native client may quote its input). */
export function withoutSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) if (s.length >= 4) out = out.split(s).join('[redacted]');
  return out;
}
