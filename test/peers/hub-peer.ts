/**
 * One local HTTP server on 127.0.0.1 standing in for the Hugging Face hub AND the Unsplash hosts:
 *
 *   HEAD|GET /{repo}/resolve/{rev}/{file}    model files; LFS files (*.onnx) answer 302 to /cdn/… with
 *                                           X-Linked-Size / X-Linked-Etag (sha256), like the real hub
 *   GET /cdn/{sha256}/{file}                 LFS bytes (Range, ETag)
 *   GET /api/models/{repo}/tree/{rev}[/dir]  tree API: [{type, path, size, oid, lfs?: {oid, size}}]
 *   GET /unsplash/lite/latest                302 to the archive, like unsplash.com/data/lite/latest
 *   GET /datasets/unsplash-lite.zip          the generated archive (Range, ETag, Last-Modified)
 *   GET /images/photo-{id}?w=…               thumbnails: good, 404, 410, hang, truncated, corrupt, slow, flaky
 *
 * `faults` injects trouble per path (drop the connection after N bytes, ignore Range, 500 once,
 * corrupt a byte, throttle); `requests` logs every request for assertions.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import http from 'node:http';
import type { Socket } from 'node:net';
import path from 'node:path';
import { imageBytes, type PhotoSpec, unsplashZip } from './unsplash-fixture.ts';

export interface RequestRecord {
  method: string;
  path: string;
  query: string;
  range: string | undefined;
  status: number;
  /** Body bytes actually written. */
  bytes: number;
}

export interface HubFaults {
  /** path → drop the socket after this many body bytes, `times` times. */
  dropAfter: Map<string, { bytes: number; times: number }>;
  /** Answer 200 with the whole file even when a Range is asked. */
  ignoreRange: boolean;
  /** path → answer 500 this many more times. */
  fail500: Map<string, number>;
  /** path → flip one byte of the body this many more times (same length, wrong hash). */
  corrupt: Map<string, number>;
  /** Limit body throughput (bytes per second) for file downloads… */
  throttleBps: number | undefined;
  /** …only for paths starting with this, when set. */
  throttlePrefix: string | undefined;
  /** Serve LFS files without X-Linked-* headers and with weak ETags (a bare mirror). */
  noLinkedHeaders: boolean;
  /** Answer 403 GatedRepo for the repo. */
  gated: boolean;
  /** Delay before answering each image request. */
  imageDelayMs: number;
}

export interface HubPeerOptions {
  repo?: string;
  /** Model directory to serve (HF layout); or give `modelFiles`. */
  modelDir?: string;
  modelFiles?: Map<string, Buffer>;
  photos?: PhotoSpec[];
  /** Incompressible bytes added to the archive so its download can be interrupted. */
  archivePadBytes?: number;
  /** Where the archive's photo_image_urls point (default: this peer's /images). */
  imageBase?: string;
  port?: number;
}

export interface HubPeer {
  url: string;
  repo: string;
  datasetUrl: string;
  files: Map<string, Buffer>;
  faults: HubFaults;
  requests: RequestRecord[];
  /** Requests whose path starts with `prefix`. */
  count(prefix: string, method?: string): number;
  sha256(file: string): string;
  close(): Promise<void>;
}

function sha256(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

function gitBlobSha1(b: Buffer): string {
  return createHash('sha1').update(`blob ${b.length}\0`).update(b).digest('hex');
}

function readDirFiles(dir: string, prefix = ''): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const name of readdirSync(path.join(dir, prefix))) {
    const rel = prefix ? `${prefix}/${name}` : name;
    if (name.startsWith('.')) continue;
    if (statSync(path.join(dir, rel)).isDirectory()) {
      for (const [k, v] of readDirFiles(dir, rel)) out.set(k, v);
    } else out.set(rel, readFileSync(path.join(dir, rel)));
  }
  return out;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function startHubPeer(opts: HubPeerOptions = {}): Promise<HubPeer> {
  const repo = opts.repo ?? 'Xenova/clip-vit-base-patch32';
  const files = opts.modelFiles ?? (opts.modelDir ? readDirFiles(opts.modelDir) : new Map<string, Buffer>());
  const photos = new Map((opts.photos ?? []).map((p) => [p.id, p]));
  const faults: HubFaults = {
    dropAfter: new Map(),
    ignoreRange: false,
    fail500: new Map(),
    corrupt: new Map(),
    throttleBps: undefined,
    throttlePrefix: undefined,
    noLinkedHeaders: false,
    gated: false,
    imageDelayMs: 0,
  };
  const requests: RequestRecord[] = [];
  const sockets = new Set<Socket>();
  const served = new Map<string, number>();
  let zip: Buffer | undefined;
  let base = '';

  /** Sends `body` honouring Range and the faults for `key`. */
  async function sendFile(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    rec: RequestRecord,
    body: Buffer,
    etag: string,
    extra: Record<string, string> = {},
  ) {
    const key = rec.path;
    const pending500 = faults.fail500.get(key) ?? 0;
    if (pending500 > 0) {
      faults.fail500.set(key, pending500 - 1);
      rec.status = 500;
      res.writeHead(500).end('boom');
      return;
    }
    let start = 0;
    let end = body.length - 1;
    let status = 200;
    const headers: Record<string, string> = {
      'content-type': 'application/octet-stream',
      'accept-ranges': 'bytes',
      etag,
      'last-modified': 'Mon, 01 Jan 2024 00:00:00 GMT',
      ...extra,
    };
    const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    const ifRange = req.headers['if-range'];
    if (
      range &&
      !faults.ignoreRange &&
      (!ifRange || ifRange === etag || ifRange === headers['last-modified'])
    ) {
      start = Number(range[1]);
      end = range[2] ? Math.min(Number(range[2]), end) : end;
      if (start >= body.length) {
        rec.status = 416;
        res.writeHead(416, { 'content-range': `bytes */${body.length}` }).end();
        return;
      }
      status = 206;
      headers['content-range'] = `bytes ${start}-${end}/${body.length}`;
    }
    let slice = body.subarray(start, end + 1);
    const corrupt = faults.corrupt.get(key) ?? 0;
    if (corrupt > 0 && slice.length > 0 && req.method !== 'HEAD') {
      faults.corrupt.set(key, corrupt - 1);
      slice = Buffer.from(slice);
      slice[slice.length >> 1] = ((slice[slice.length >> 1] as number) ^ 0xff) & 0xff;
    }
    headers['content-length'] = String(slice.length);
    rec.status = status;
    res.writeHead(status, headers);
    if (req.method === 'HEAD') return void res.end();
    const drop = faults.dropAfter.get(key);
    let limit = slice.length;
    if (drop && drop.times > 0) {
      drop.times--;
      limit = Math.min(limit, drop.bytes);
    }
    const chunk = 16 * 1024;
    for (let off = 0; off < limit; off += chunk) {
      const piece = slice.subarray(off, Math.min(off + chunk, limit));
      if (res.destroyed) return;
      res.write(piece);
      rec.bytes += piece.length;
      served.set(key, (served.get(key) ?? 0) + piece.length);
      if (faults.throttleBps && (!faults.throttlePrefix || key.startsWith(faults.throttlePrefix)))
        await sleep((piece.length / faults.throttleBps) * 1000);
    }
    if (limit < slice.length) {
      // Let the bytes leave before cutting the connection, like a real network drop mid-transfer.
      await sleep(20);
      res.destroy();
      return;
    }
    res.end();
  }

  function hubError(
    res: http.ServerResponse,
    rec: RequestRecord,
    status: number,
    code: string,
    message: string,
  ) {
    rec.status = status;
    res.writeHead(status, {
      'x-error-code': code,
      'x-error-message': message,
      'content-type': 'application/json',
    });
    res.end(JSON.stringify({ error: message }));
  }

  async function handle(req: http.IncomingMessage, res: http.ServerResponse, rec: RequestRecord) {
    const p = rec.path;
    const resolve = /^\/(.+?)\/resolve\/([^/]+)\/(.+)$/.exec(p);
    if (resolve) {
      const [, r, , file] = resolve as unknown as [string, string, string, string];
      if (r !== repo) return hubError(res, rec, 401, 'RepoNotFound', 'Repository not found');
      if (faults.gated) return hubError(res, rec, 403, 'GatedRepo', 'Access to this repo is restricted');
      const body = files.get(decodeURIComponent(file));
      if (!body) return hubError(res, rec, 404, 'EntryNotFound', 'Entry not found');
      const lfs = file.endsWith('.onnx');
      if (lfs && !faults.noLinkedHeaders) {
        const sha = sha256(body);
        rec.status = 302;
        res.writeHead(302, {
          location: `/cdn/${sha}/${file}`,
          'x-linked-size': String(body.length),
          'x-linked-etag': `"${sha}"`,
          etag: `"${sha}"`,
          'x-repo-commit': 'f'.repeat(40),
        });
        return void res.end();
      }
      const etag = lfs ? `W/"${gitBlobSha1(body)}"` : `"${gitBlobSha1(body)}"`;
      return sendFile(req, res, rec, body, etag, { 'x-repo-commit': 'f'.repeat(40) });
    }
    const cdn = /^\/cdn\/([0-9a-f]{64})\/(.+)$/.exec(p);
    if (cdn) {
      const body = files.get(decodeURIComponent(cdn[2] as string));
      if (!body || sha256(body) !== cdn[1]) return hubError(res, rec, 404, 'EntryNotFound', 'gone');
      return sendFile(req, res, rec, body, `"${cdn[1]}"`);
    }
    const tree = /^\/api\/models\/(.+?)\/tree\/([^/]+)(?:\/(.*))?$/.exec(p);
    if (tree) {
      if (tree[1] !== repo) return hubError(res, rec, 401, 'RepoNotFound', 'Repository not found');
      const dir = tree[3] ?? '';
      const list = [...files.entries()]
        .filter(([f]) =>
          dir ? f.startsWith(`${dir}/`) && !f.slice(dir.length + 1).includes('/') : !f.includes('/'),
        )
        .map(([f, b]) => ({
          type: 'file',
          oid: gitBlobSha1(b),
          size: b.length,
          path: f,
          ...(f.endsWith('.onnx') ? { lfs: { oid: sha256(b), size: b.length, pointerSize: 134 } } : {}),
        }));
      rec.status = 200;
      return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(list));
    }
    if (p === '/unsplash/lite/latest') {
      rec.status = 302;
      return void res.writeHead(302, { location: '/datasets/unsplash-lite.zip' }).end();
    }
    if (p === '/datasets/unsplash-lite.zip') {
      zip ??= unsplashZip(
        [...photos.values()],
        opts.imageBase ?? `${base}/images`,
        opts.archivePadBytes ?? 0,
      );
      return sendFile(req, res, rec, zip, `"${sha256(zip).slice(0, 32)}"`, {
        'content-type': 'application/zip',
      });
    }
    const img = /^\/images\/photo-([A-Za-z0-9_-]+)$/.exec(p);
    const spec = img ? photos.get(img[1] as string) : undefined;
    if (spec) return serveImage(res, rec, spec);
    rec.status = 404;
    res.writeHead(404).end('not found');
  }

  async function serveImage(res: http.ServerResponse, rec: RequestRecord, spec: PhotoSpec) {
    const seen = (served.get(`img:${spec.id}`) ?? 0) + 1;
    served.set(`img:${spec.id}`, seen);
    if (spec.kind === 'hang') return; // never answer; close() destroys the socket
    if (faults.imageDelayMs > 0) await sleep(faults.imageDelayMs);
    if (spec.kind === 'missing' || spec.kind === 'gone') {
      rec.status = spec.kind === 'missing' ? 404 : 410;
      return void res.writeHead(rec.status).end();
    }
    if (spec.kind === 'flaky' && seen === 1) {
      rec.status = 500;
      return void res.writeHead(500).end();
    }
    const body = (await imageBytes(spec)) as Buffer;
    rec.status = 200;
    res.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': String(body.length) });
    if (spec.kind === 'slow') {
      const step = Math.ceil(body.length / 4);
      for (let off = 0; off < body.length && !res.destroyed; off += step) {
        res.write(body.subarray(off, off + step));
        await sleep(100);
      }
    } else res.write(body);
    rec.bytes += body.length;
    res.end();
  }

  const server = http.createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://x');
    const rec: RequestRecord = {
      method: req.method ?? 'GET',
      path: u.pathname,
      query: u.search,
      range: req.headers.range,
      status: 0,
      bytes: 0,
    };
    requests.push(rec);
    handle(req, res, rec).catch((e: unknown) => {
      rec.status = 500;
      if (!res.headersSent) res.writeHead(500);
      res.end(String(e));
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(opts.port ?? 0, '127.0.0.1', resolve));
  const addr = server.address();
  if (!addr || typeof addr === 'string') throw new Error('no address');
  base = `http://127.0.0.1:${addr.port}`;
  return {
    url: base,
    repo,
    datasetUrl: `${base}/unsplash/lite/latest`,
    files,
    faults,
    requests,
    count: (prefix, method) =>
      requests.filter((r) => r.path.startsWith(prefix) && (!method || r.method === method)).length,
    sha256: (file) => sha256(files.get(file) as Buffer),
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      for (const s of sockets) s.destroy();
      await closed;
    },
  };
}
