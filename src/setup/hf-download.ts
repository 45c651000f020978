/**
 * Downloads a CLIP model repository from the Hugging Face hub (or a mirror at `HF_ENDPOINT`) in HF
 * export layout. Like huggingface_hub, each file's size and SHA-256 come from a HEAD on
 * `/{repo}/resolve/{revision}/{file}` (`X-Linked-Size`, `X-Linked-Etag`), with the tree API as a
 * fallback; the bytes come through the resumable {@link downloadFile}.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import pRetry, { AbortError } from 'p-retry';
import { readJsonOrUndefined, statOrUndefined, writeFileAtomic } from '../util/fs-atomic.ts';
import type { Logger } from '../util/logger.ts';
import { describeError, HttpStatusError, isRetryable, TransientError } from '../util/net-errors.ts';
import { DEFAULT_RETRY, downloadFile, type RetryPolicy } from './download.ts';

/** Which ONNX weights to fetch: `quantized` (int8, ~4x smaller) is the default. */
export type ModelVariant = 'fp32' | 'fp16' | 'quantized';

/** Non-weight files every variant needs. */
export const MODEL_CONFIG_FILES = [
  'config.json',
  'preprocessor_config.json',
  'tokenizer.json',
  'tokenizer_config.json',
  'special_tokens_map.json',
] as const;

const VARIANT_SUFFIX: Record<ModelVariant, string> = { fp32: '', fp16: '_fp16', quantized: '_quantized' };

/** Repo-relative paths of all files a variant needs, weights last (they are the big ones). */
export function modelFiles(variant: ModelVariant): string[] {
  const s = VARIANT_SUFFIX[variant];
  return [...MODEL_CONFIG_FILES, `onnx/text_model${s}.onnx`, `onnx/vision_model${s}.onnx`];
}

/** Written into the model directory once every file has been verified. */
export const MODEL_MARKER = '.imagesearch-model.json';

/** Contents of {@link MODEL_MARKER}. */
export interface ModelMarker {
  repo: string;
  revision: string;
  variant: ModelVariant;
  endpoint: string;
  files: { path: string; size: number; sha256: string }[];
  completedAt: string;
}

export interface ModelDownloadOptions {
  /** Hub base URL (`HF_ENDPOINT`). */
  endpoint: string;
  /** `owner/name` (`IMAGESEARCH_MODEL_REPO`). */
  repo: string;
  revision?: string;
  variant?: ModelVariant;
  /** Target model directory (`IMAGESEARCH_MODEL_DIR`). */
  dir: string;
  /** Hub token for gated or private repos. */
  token?: string | undefined;
  logger: Logger;
  progress?: boolean;
  signal?: AbortSignal | undefined;
  retry?: Partial<RetryPolicy> | undefined;
  stallTimeoutMs?: number | undefined;
}

export interface ModelDownloadResult {
  dir: string;
  variant: ModelVariant;
  downloaded: string[];
  reused: string[];
}

/** What the hub says about one file before we fetch it. */
export interface HubFileInfo {
  path: string;
  size?: number;
  sha256?: string;
}

const SHA256_RE = /^[0-9a-f]{64}$/;

function cleanEtag(v: string | null): string | undefined {
  if (!v) return undefined;
  return v.replace(/^W\//, '').replace(/"/g, '').trim().toLowerCase();
}

function encodePath(p: string): string {
  return p.split('/').map(encodeURIComponent).join('/');
}

/** `${endpoint}/${repo}/resolve/${revision}/${file}` */
export function resolveUrl(endpoint: string, repo: string, revision: string, file: string): string {
  return `${endpoint.replace(/\/+$/, '')}/${repo}/resolve/${encodeURIComponent(revision)}/${encodePath(file)}`;
}

function authHeaders(token: string | undefined): Record<string, string> {
  return token ? { authorization: `Bearer ${token}` } : {};
}

async function withRetry<T>(fn: () => Promise<T>, opts: ModelDownloadOptions): Promise<T> {
  const policy = { ...DEFAULT_RETRY, ...opts.retry };
  return pRetry(
    async () => {
      try {
        return await fn();
      } catch (e) {
        if (opts.signal?.aborted || !isRetryable(e)) throw new AbortError(e instanceof Error ? e : String(e));
        throw e instanceof TypeError ? new TransientError(describeError(e), { cause: e }) : e;
      }
    },
    {
      retries: policy.retries,
      minTimeout: policy.minDelayMs,
      maxTimeout: policy.maxDelayMs,
      ...(opts.signal ? { signal: opts.signal } : {}),
      onFailedAttempt: (err) => {
        if (err.retriesLeft > 0)
          opts.logger.warn(
            { attempt: err.attemptNumber },
            `hub request failed (${describeError(err)}); retrying`,
          );
      },
    },
  );
}

/**
 * HEAD without following redirects, as huggingface_hub does: for LFS files the hub answers 302 to its
 * CDN, and the size and SHA-256 are on that redirect (`X-Linked-Size`, `X-Linked-Etag`).
 */
async function headFile(opts: ModelDownloadOptions, revision: string, file: string): Promise<HubFileInfo> {
  const url = resolveUrl(opts.endpoint, opts.repo, revision, file);
  const res = await fetch(url, {
    method: 'HEAD',
    redirect: 'manual',
    headers: { 'accept-encoding': 'identity', ...authHeaders(opts.token) },
    ...(opts.signal ? { signal: opts.signal } : {}),
  });
  if (res.status >= 400) throw new HttpStatusError(url, res.status, res.headers);
  const info: HubFileInfo = { path: file };
  const size =
    res.headers.get('x-linked-size') ?? (res.status < 300 ? res.headers.get('content-length') : null);
  if (size !== null && /^\d+$/.test(size)) info.size = Number(size);
  const etag = cleanEtag(res.headers.get('x-linked-etag') ?? res.headers.get('etag'));
  // A 64-hex ETag is the LFS sha256; a 40-hex one is a git blob sha1, which we do not check.
  if (etag && SHA256_RE.test(etag)) info.sha256 = etag;
  return info;
}

interface TreeEntry {
  path?: unknown;
  size?: unknown;
  lfs?: { oid?: unknown; size?: unknown } | null;
}

/** `GET /api/models/{repo}/tree/{revision}/{dir}`: sizes and LFS sha256s of a folder. Best effort. */
async function treeInfo(
  opts: ModelDownloadOptions,
  revision: string,
  dir: string,
): Promise<Map<string, HubFileInfo>> {
  const base = opts.endpoint.replace(/\/+$/, '');
  const url = `${base}/api/models/${opts.repo}/tree/${encodeURIComponent(revision)}${dir ? `/${encodePath(dir)}` : ''}`;
  const out = new Map<string, HubFileInfo>();
  try {
    const res = await fetch(url, {
      headers: authHeaders(opts.token),
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
    if (!res.ok) {
      await res.body?.cancel();
      return out;
    }
    const body = (await res.json()) as unknown;
    if (!Array.isArray(body)) return out;
    for (const raw of body as TreeEntry[]) {
      if (typeof raw.path !== 'string') continue;
      const info: HubFileInfo = { path: raw.path };
      const size = raw.lfs?.size ?? raw.size;
      if (typeof size === 'number') info.size = size;
      if (typeof raw.lfs?.oid === 'string' && SHA256_RE.test(raw.lfs.oid)) info.sha256 = raw.lfs.oid;
      out.set(raw.path, info);
    }
  } catch (e) {
    if (opts.signal?.aborted) throw e;
    opts.logger.debug({ err: describeError(e) }, 'hub tree API unavailable; relying on response headers');
  }
  return out;
}

/**
 * Checks a model directory without loading it. With our marker file, every file must exist with the
 * recorded size; without one (files put there by hand) every file of some variant must exist and be
 * non-empty. `variant: 'auto'` accepts any complete variant.
 */
export async function checkModelDir(
  dir: string,
  variant: ModelVariant | 'auto',
): Promise<{ ok: boolean; variant?: ModelVariant; missing: string[] }> {
  const marker = (await readJsonOrUndefined(path.join(dir, MODEL_MARKER))) as ModelMarker | undefined;
  const candidates: ModelVariant[] = variant === 'auto' ? ['quantized', 'fp32', 'fp16'] : [variant];
  let firstMissing: string[] | undefined;
  for (const v of candidates) {
    const recorded = marker?.variant === v && Array.isArray(marker.files) ? marker.files : undefined;
    const missing: string[] = [];
    for (const f of modelFiles(v)) {
      const st = await statOrUndefined(path.join(dir, f));
      const want = recorded?.find((r) => r.path === f)?.size;
      if (!st?.isFile() || st.size === 0 || (want !== undefined && st.size !== want)) missing.push(f);
    }
    if (missing.length === 0) return { ok: true, variant: v, missing };
    firstMissing ??= missing;
  }
  return { ok: false, missing: firstMissing ?? [] };
}

/**
 * Downloads every file of `variant` into `dir`, skipping files that are already complete. Each file
 * lands under its final name only after its checksum passes; the marker is written last.
 */
export async function downloadModel(opts: ModelDownloadOptions): Promise<ModelDownloadResult> {
  const revision = opts.revision ?? 'main';
  const variant = opts.variant ?? 'quantized';
  const files = modelFiles(variant);
  await fs.mkdir(opts.dir, { recursive: true });

  const infos: HubFileInfo[] = [];
  for (const f of files) infos.push(await withRetry(() => headFile(opts, revision, f), opts));
  // Mirrors that drop the X-Linked-* headers: the tree API still has the LFS sha256s.
  if (infos.some((i) => i.path.endsWith('.onnx') && i.sha256 === undefined)) {
    const tree = await treeInfo(opts, revision, 'onnx');
    for (const info of infos) {
      const t = tree.get(info.path);
      if (t?.sha256 && info.sha256 === undefined) info.sha256 = t.sha256;
      if (t?.size !== undefined && info.size === undefined) info.size = t.size;
    }
  }

  const result: ModelDownloadResult = { dir: opts.dir, variant, downloaded: [], reused: [] };
  const recorded: ModelMarker['files'] = [];
  for (const info of infos) {
    const r = await downloadFile({
      url: resolveUrl(opts.endpoint, opts.repo, revision, info.path),
      dest: path.join(opts.dir, ...info.path.split('/')),
      label: path.basename(info.path),
      expectedSize: info.size,
      expectedSha256: info.sha256,
      headers: authHeaders(opts.token),
      logger: opts.logger,
      progress: opts.progress ?? true,
      signal: opts.signal,
      retry: opts.retry,
      stallTimeoutMs: opts.stallTimeoutMs,
    });
    (r.reused ? result.reused : result.downloaded).push(info.path);
    recorded.push({ path: info.path, size: r.bytes, sha256: r.sha256 });
  }
  const marker: ModelMarker = {
    repo: opts.repo,
    revision,
    variant,
    endpoint: opts.endpoint,
    files: recorded,
    completedAt: new Date().toISOString(),
  };
  await writeFileAtomic(path.join(opts.dir, MODEL_MARKER), `${JSON.stringify(marker, null, 2)}\n`);
  return result;
}
