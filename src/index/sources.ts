import { createReadStream, existsSync } from 'node:fs';
import { open, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { parse } from 'csv-parse';
import { ImageSearchError } from '../core/errors.ts';
import { PathRefusedError, realImagePath } from '../util/contained-path.ts';
import type { StoredEntry } from './format.ts';

/** Image file types the builder reads (sharp decodes them all). */
export const IMAGE_EXTENSIONS = new Set([
  '.jpg',
  '.jpeg',
  '.png',
  '.webp',
  '.gif',
  '.tif',
  '.tiff',
  '.avif',
  '.heic',
  '.heif',
]);

export interface SourceListing {
  entries: StoredEntry[];
  /** Folder that relative `path`s are resolved against. */
  imagesRoot?: string;
  /** Remote hosts the entries' URLs point at. */
  hosts: string[];
  /** Rows that could not become entries (duplicate ids, no path or url). */
  rejected: { id: string; reason: string }[];
  description: string;
}

/** How local paths in a source are read. */
export interface SourceOptions {
  /** Take absolute paths in a manifest (`index --allow-absolute-paths`); otherwise they are refused. */
  allowAbsolutePaths?: boolean | undefined;
}

/**
 * Every image under `dir` (recursively); ids are paths relative to `dir` with `/` separators.
 * A symlink that leads out of `dir` is refused (reported in `rejected`).
 */
export async function listImageFolder(dir: string): Promise<SourceListing> {
  const root = path.resolve(dir);
  let files: string[];
  try {
    files = (await readdir(root, { recursive: true })).map(String);
  } catch (e) {
    throw new ImageSearchError('not_found', `Can't read the image folder ${root}.`, { cause: e });
  }
  const entries: StoredEntry[] = [];
  const rejected: { id: string; reason: string }[] = [];
  for (const rel of files.sort()) {
    if (!IMAGE_EXTENSIONS.has(path.extname(rel).toLowerCase())) continue;
    if (rel.split(path.sep).some((part) => part.startsWith('.'))) continue;
    const id = rel.split(path.sep).join('/');
    let file: string;
    try {
      file = await realImagePath(id, { root, allowAbsolute: false });
    } catch (e) {
      if (e instanceof PathRefusedError) rejected.push({ id, reason: e.message });
      continue; // a dangling symlink: nothing to index
    }
    const st = await stat(file).catch(() => undefined);
    if (!st?.isFile()) continue;
    entries.push({ id, path: id, fingerprint: `${st.size}:${Math.round(st.mtimeMs)}` });
  }
  return { entries, imagesRoot: root, hosts: [], rejected, description: `folder ${root}` };
}

type Row = Record<string, string | undefined>;

/**
 * A manifest: CSV or TSV with a header. Generic columns: `id` plus `path` or `url`, optional
 * `page_url`, `credit_name`, `credit_url`, `description`, `width`, `height`. Unsplash Lite's
 * `photos.tsv000` columns are understood as they are (`photo_id`, `photo_image_url`, …), and the
 * parts `photos.tsv001…` beside it are read too.
 */
export async function readManifestFile(file: string, opts: SourceOptions = {}): Promise<SourceListing> {
  const abs = path.resolve(file);
  if (!existsSync(abs)) throw new ImageSearchError('not_found', `Manifest ${abs} not found.`);
  const parts = manifestParts(abs);
  const entries: StoredEntry[] = [];
  const rejected: { id: string; reason: string }[] = [];
  const seen = new Set<string>();
  const hosts = new Set<string>();
  for (const part of parts) {
    const tsv = /\.tsv\d*$/i.test(part) || (await firstLine(part)).includes('\t');
    const parser = createReadStream(part).pipe(
      parse({
        columns: (header: string[]) => header.map((h) => h.trim().toLowerCase()),
        delimiter: tsv ? '\t' : ',',
        // Unsplash's own loader reads its TSV as CSV with a tab delimiter, so fields may be quoted;
        // a stray quote inside an unquoted field stays literal.
        quote: '"',
        relax_quotes: true,
        relax_column_count: true,
        skip_empty_lines: true,
        bom: true,
      }),
    );
    try {
      for await (const row of parser as AsyncIterable<Row>) {
        const entry = rowToEntry(row);
        if (!entry) {
          rejected.push({
            id: row.id ?? row.photo_id ?? '?',
            reason: 'row has no id, or neither path nor url',
          });
          continue;
        }
        if (seen.has(entry.id)) {
          rejected.push({ id: entry.id, reason: 'duplicate id' });
          continue;
        }
        seen.add(entry.id);
        if (entry.url) {
          try {
            hosts.add(new URL(entry.url).hostname.toLowerCase());
          } catch {
            rejected.push({ id: entry.id, reason: 'invalid url' });
            seen.delete(entry.id);
            continue;
          }
        }
        entries.push(entry);
      }
    } catch (e) {
      throw new ImageSearchError('usage', `Can't parse manifest ${part}: ${(e as Error).message}`, {
        cause: e,
      });
    }
  }
  // Relative paths are read from the manifest's folder and may not leave it (../, symlinks);
  // absolute ones only when asked for. A refused row is reported, never indexed.
  const localRoot = path.dirname(abs);
  const policy = { root: localRoot, allowAbsolute: opts.allowAbsolutePaths === true };
  const kept: StoredEntry[] = [];
  for (const e of entries) {
    if (e.path) {
      let file: string | undefined;
      try {
        file = await realImagePath(e.path, policy);
      } catch (err) {
        if (err instanceof PathRefusedError) {
          rejected.push({ id: e.id, reason: err.message });
          continue;
        }
        // Missing: kept, so the build reports it as "file not found" (or uses its URL).
      }
      if (!e.fingerprint) {
        const st = file ? await stat(file).catch(() => undefined) : undefined;
        e.fingerprint = st ? `${st.size}:${Math.round(st.mtimeMs)}` : 'missing';
      }
    }
    kept.push(e);
  }
  // Hosts of the rows kept (every kept URL parsed above).
  const keptHosts = new Set(kept.flatMap((e) => (e.url ? [new URL(e.url).hostname.toLowerCase()] : [])));
  return {
    entries: kept,
    imagesRoot: localRoot,
    hosts: [...keptHosts],
    rejected,
    description: `manifest ${abs}`,
  };
}

function rowToEntry(row: Row): StoredEntry | undefined {
  const s = (v: string | undefined) => (v && v.trim() !== '' ? v.trim() : undefined);
  const num = (v: string | undefined) => {
    const n = Number(v);
    return v && Number.isFinite(n) && n > 0 ? n : undefined;
  };
  // Unsplash Lite photos.tsv000
  if (row.photo_id !== undefined) {
    const id = s(row.photo_id);
    const url = s(row.photo_image_url);
    if (!id || !url) return undefined;
    const name = [s(row.photographer_first_name), s(row.photographer_last_name)].filter(Boolean).join(' ');
    const user = s(row.photographer_username);
    const entry: StoredEntry = { id, url, fingerprint: url };
    const page = s(row.photo_url);
    if (page) entry.pageUrl = page;
    if (name || user) {
      entry.credit = { name: name || (user as string) };
      if (user) entry.credit.url = `https://unsplash.com/@${user}`;
    }
    const description = s(row.photo_description) ?? s(row.ai_description);
    if (description) entry.description = description;
    const width = num(row.photo_width);
    const height = num(row.photo_height);
    if (width) entry.width = width;
    if (height) entry.height = height;
    return entry;
  }
  const id = s(row.id);
  const p = s(row.path);
  const url = s(row.url);
  if (!id || (!p && !url)) return undefined;
  const entry: StoredEntry = { id };
  if (p) entry.path = p;
  if (url) {
    entry.url = url;
    entry.fingerprint = url;
  }
  const page = s(row.page_url);
  if (page) entry.pageUrl = page;
  const creditName = s(row.credit_name);
  if (creditName) {
    entry.credit = { name: creditName };
    const cu = s(row.credit_url);
    if (cu) entry.credit.url = cu;
  }
  const description = s(row.description);
  if (description) entry.description = description;
  const width = num(row.width);
  const height = num(row.height);
  if (width) entry.width = width;
  if (height) entry.height = height;
  return entry;
}

/** `photos.tsv000` → [photos.tsv000, photos.tsv001, …] when the numbered parts exist. */
function manifestParts(file: string): string[] {
  const m = /^(.*\.tsv)(\d{3})$/i.exec(file);
  if (!m) return [file];
  const parts: string[] = [];
  for (let i = 0; i < 1000; i++) {
    const part = `${m[1]}${String(i).padStart(3, '0')}`;
    if (!existsSync(part)) break;
    parts.push(part);
  }
  return parts.length ? parts : [file];
}

async function firstLine(file: string): Promise<string> {
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.alloc(64 * 1024);
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    const text = buf.subarray(0, bytesRead).toString('utf8');
    const nl = text.indexOf('\n');
    return nl >= 0 ? text.slice(0, nl) : text;
  } finally {
    await fh.close();
  }
}
