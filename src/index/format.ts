import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { ImageSearchError } from '../core/errors.ts';

/**
 * On-disk index format, version 1 — a directory:
 *
 *   index.json            manifest (below); written last, by atomic rename: it is the commit point
 *   vectors-<hash>.f32    count × dim little-endian float32, row-major, each row L2-normalised
 *   entries-<hash>.jsonl  one IndexEntry per line, row order
 *
 * Data files carry a content hash in their names, so a rewrite never touches the files that the
 * current index.json points to: a crash at any moment leaves either the old or the new index.
 *
 * `engine: "int8"` adds one file, read instead of the fp32 vectors for the scan (the fp32 file stays,
 * for the exact re-score of a shortlist and for "more like"):
 *
 *   codes-<hash>.i8       count × dim int8, row-major; value ≈ code × scales[dim]
 *
 * A reader that predates `engine` ignores the field and serves the same folder as a flat index.
 * LanceDB indexes are not described here: they carry their own manifest (engines/lance-format.ts).
 */
export const INDEX_FORMAT = 'imagesearch-index';
export const INDEX_VERSION = 1;
export const INDEX_FILE = 'index.json';

/**
 * The generic manifest's columns: read by index/sources.ts in any order, written by setup in this
 * one (src/setup/manifest.ts); the LanceDB table stores the same fields plus a fingerprint
 * (META_COLUMNS in engines/lance-format.ts).
 */
export const MANIFEST_COLUMNS = [
  'id',
  'path',
  'url',
  'page_url',
  'credit_name',
  'credit_url',
  'description',
  'width',
  'height',
] as const;

/** Engines whose data is described by index.json (LanceDB datasets describe themselves). */
export const FILE_ENGINES = ['flat', 'int8'] as const;
export type FileEngine = (typeof FILE_ENGINES)[number];

export const entrySchema = z.object({
  id: z.string().min(1),
  path: z.string().optional(),
  url: z.string().optional(),
  pageUrl: z.string().optional(),
  credit: z
    .object({ name: z.string(), url: z.string().optional(), source: z.string().optional() })
    .optional(),
  description: z.string().optional(),
  width: z.number().optional(),
  height: z.number().optional(),
  /** Change detection for incremental updates: `size:mtime` for files, the URL for remote images. */
  fingerprint: z.string().optional(),
});

export type StoredEntry = z.infer<typeof entrySchema>;

/**
 * Names the publisher in a credit that lacks one: Unsplash's licence asks for "Photo by NAME on
 * Unsplash", and an Unsplash photo is known by its image URL. Indexes (from setup's manifest,
 * photos.tsv000 or an older build) need not store it, so it is filled in as they are read.
 */
export function withCreditSource(entry: StoredEntry): StoredEntry {
  const credit = entry.credit;
  if (!credit || credit.source || !entry.url?.includes('unsplash.com')) return entry;
  return { ...entry, credit: { ...credit, source: 'Unsplash' } };
}

export const manifestSchema = z.object({
  format: z.literal(INDEX_FORMAT),
  version: z.number().int(),
  modelId: z.string().min(1),
  dim: z.number().int().positive(),
  count: z.number().int().nonnegative(),
  dtype: z.literal('float32'),
  vectorsFile: z.string().regex(/^[\w.-]+$/),
  entriesFile: z.string().regex(/^[\w.-]+$/),
  vectorsSha256: z.string().regex(/^[0-9a-f]{64}$/),
  /** Which search runs over these files (absent in indexes written before engines existed). */
  engine: z.enum(FILE_ENGINES).default('flat'),
  int8: z
    .object({
      codesFile: z.string().regex(/^[\w.-]+$/),
      codesSha256: z.string().regex(/^[0-9a-f]{64}$/),
      /** Per-dimension scales, `dim` of them. */
      scales: z.array(z.number().positive().finite()),
    })
    .optional(),
  /** The photo folder: entries' paths are relative to it and may not leave it (src/util/contained-path.ts). */
  imagesRoot: z.string().optional(),
  /** Entries may name absolute paths: only when the index was built with `--allow-absolute-paths`. */
  allowAbsolutePaths: z.boolean().optional(),
  /** Hosts the image store may fetch this index's remote images from. */
  hosts: z.array(z.string()).default([]),
  source: z.string().optional(),
  createdAt: z.string(),
  updatedAt: z.string(),
});

export type IndexManifest = z.infer<typeof manifestSchema>;

export async function readManifest(dir: string): Promise<IndexManifest> {
  let raw: string;
  try {
    raw = await readFile(path.join(dir, INDEX_FILE), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new ImageSearchError(
        'index_missing',
        `No index found in ${dir}. Build one with \`npx imagesearch index --images DIR --out ${dir}\`, run \`npx imagesearch setup\`, or set IMAGESEARCH_INDEX_DIR.`,
      );
    }
    throw new ImageSearchError('index_invalid', `Could not read ${path.join(dir, INDEX_FILE)}.`, {
      cause: e,
    });
  }
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    throw invalid(dir, 'index.json is not valid JSON');
  }
  const parsed = manifestSchema.safeParse(json);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    throw invalid(dir, `index.json field "${first?.path.join('.')}" ${first?.message ?? 'is invalid'}`);
  }
  if (parsed.data.engine === 'int8' && parsed.data.int8?.scales.length !== parsed.data.dim) {
    throw invalid(
      dir,
      'index.json says engine "int8" but its int8 codes or scales are missing or the wrong size',
    );
  }
  if (parsed.data.version > INDEX_VERSION) {
    throw invalid(
      dir,
      `it uses format version ${parsed.data.version}; this imagesearch reads up to ${INDEX_VERSION} — upgrade`,
    );
  }
  return parsed.data;
}

export function invalid(dir: string, why: string): ImageSearchError {
  return new ImageSearchError(
    'index_invalid',
    `The index in ${dir} is damaged (${why}). Rebuild it with \`npx imagesearch index … --out ${dir}\`.`,
  );
}

export function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}
