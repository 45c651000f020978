/**
 * Writes the index manifest for the Unsplash photos: CSV with header
 * `id,path,url,page_url,credit_name,credit_url,description,width,height`, RFC 4180 quoting,
 * written atomically so the index build never reads half a manifest.
 */
import path from 'node:path';
import { MANIFEST_COLUMNS } from '../index/format.ts';
import { writeFileAtomic } from '../util/fs-atomic.ts';
import type { UnsplashPhoto } from './unsplash-tsv.ts';

/** One manifest row; `path` is the local thumbnail. */
export type ManifestRow = Record<(typeof MANIFEST_COLUMNS)[number], string>;

export function csvField(v: string): string {
  return /[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

export function manifestRow(photo: UnsplashPhoto, imagePath: string): ManifestRow {
  return {
    id: photo.id,
    path: imagePath,
    url: photo.imageUrl,
    page_url: photo.pageUrl ?? '',
    // The plain name: captions render it as "Photo by NAME on Unsplash" (the url is on unsplash.com).
    credit_name: photo.photographer ?? '',
    credit_url: photo.photographerUrl ?? '',
    // One line per row keeps the file friendly to line-based tools as well as CSV readers.
    description: (photo.description ?? '').replace(/\s+/g, ' ').trim(),
    width: photo.width ? String(photo.width) : '',
    height: photo.height ? String(photo.height) : '',
  };
}

export async function writeManifest(file: string, rows: ManifestRow[]): Promise<void> {
  const lines = [MANIFEST_COLUMNS.join(',')];
  for (const r of rows) lines.push(MANIFEST_COLUMNS.map((c) => csvField(r[c])).join(','));
  await writeFileAtomic(file, `${lines.join('\n')}\n`);
}

/** Thumbnail path as written in the manifest: relative to the manifest's folder, so data/ can move. */
export function manifestPath(manifestFile: string, imageFile: string): string {
  return path.relative(path.dirname(manifestFile), imageFile).split(path.sep).join('/');
}
