/**
 * Reads Unsplash dataset TSV parts (`photos.tsv000`, `photos.tsv001`, …). Unsplash's own loader
 * imports them with PostgreSQL `COPY … (FORMAT csv, DELIMITER E'\t')`, so fields follow CSV quoting:
 * a field may be wrapped in `"…"`, contain tabs or newlines, and escape `"` as `""`. Every part
 * starts with its own header line, and columns are looked up by name because older releases have
 * fewer of them.
 */
import { createReadStream } from 'node:fs';
import { parse } from 'csv-parse';

/** Streams the records of a delimited file with CSV quoting rules (csv-parse). */
export async function* readDelimited(file: string, delimiter = '\t'): AsyncGenerator<string[]> {
  const stream = createReadStream(file);
  const parser = stream.pipe(
    parse({
      delimiter,
      // A quote that does not open a field stays literal, as in PostgreSQL's CSV reader.
      relax_quotes: true,
      relax_column_count: true,
      bom: true,
    }),
  );
  try {
    for await (const record of parser as AsyncIterable<string[]>) yield record;
  } finally {
    stream.destroy();
  }
}

/** One usable row of `photos.tsv*`, reduced to what the index needs. */
export interface UnsplashPhoto {
  id: string;
  /** `photo_image_url`: the imgix original, resized by query parameters. */
  imageUrl: string;
  /** `photo_url`: the photo's page on unsplash.com. */
  pageUrl?: string;
  photographer?: string;
  photographerUrl?: string;
  description?: string;
  width?: number;
  height?: number;
}

/** A row we cannot use, with the reason. */
export interface RejectedRow {
  id: string;
  reason: string;
}

// Photo ids become file names: keep them to the characters Unsplash uses (11-char slugs).
const ID_RE = /^[A-Za-z0-9_-]{1,64}$/;

function positiveInt(v: string | undefined): number | undefined {
  if (v === undefined || !/^\d+$/.test(v)) return undefined;
  const n = Number(v);
  return n > 0 ? n : undefined;
}

function httpUrl(v: string | undefined): string | undefined {
  if (!v) return undefined;
  try {
    const u = new URL(v);
    return u.protocol === 'https:' || u.protocol === 'http:' ? u.toString() : undefined;
  } catch {
    return undefined;
  }
}

/** Maps one record to a photo using the part's header; returns a rejection when it is unusable. */
export function toPhoto(header: string[], record: string[]): UnsplashPhoto | RejectedRow {
  const get = (col: string): string | undefined => {
    const i = header.indexOf(col);
    const v = i >= 0 ? record[i]?.trim() : undefined;
    return v === '' ? undefined : v;
  };
  const id = get('photo_id') ?? '';
  if (!ID_RE.test(id)) return { id: id.slice(0, 64), reason: 'invalid photo_id' };
  const imageUrl = httpUrl(get('photo_image_url'));
  if (!imageUrl) return { id, reason: 'missing or invalid photo_image_url' };
  const photo: UnsplashPhoto = { id, imageUrl };
  const pageUrl = httpUrl(get('photo_url'));
  if (pageUrl) photo.pageUrl = pageUrl;
  const username = get('photographer_username');
  const name = [get('photographer_first_name'), get('photographer_last_name')].filter(Boolean).join(' ');
  if (name || username) photo.photographer = name || (username as string);
  if (username && /^[A-Za-z0-9_.-]{1,64}$/.test(username))
    photo.photographerUrl = `https://unsplash.com/@${username}`;
  const description = get('photo_description') ?? get('ai_description');
  if (description) photo.description = description.replace(/\s+/g, ' ');
  const width = positiveInt(get('photo_width'));
  const height = positiveInt(get('photo_height'));
  if (width) photo.width = width;
  if (height) photo.height = height;
  return photo;
}

export function isRejected(r: UnsplashPhoto | RejectedRow): r is RejectedRow {
  return 'reason' in r;
}

/**
 * Reads photos from the parts in order, stopping after `limit` usable rows. Duplicate ids (a photo
 * listed twice across parts) are kept once.
 */
export async function readPhotos(
  parts: string[],
  limit?: number,
): Promise<{ photos: UnsplashPhoto[]; rejected: RejectedRow[] }> {
  const photos: UnsplashPhoto[] = [];
  const rejected: RejectedRow[] = [];
  const seen = new Set<string>();
  for (const part of parts) {
    let header: string[] | undefined;
    for await (const record of readDelimited(part)) {
      if (!header) {
        header = record.map((h) => h.trim());
        if (!header.includes('photo_id') || !header.includes('photo_image_url')) {
          throw new Error(
            `${part} does not look like an Unsplash photos table (no photo_id/photo_image_url header)`,
          );
        }
        continue;
      }
      if (record.length === 1 && record[0] === '') continue;
      const r = toPhoto(header, record);
      if (isRejected(r)) {
        rejected.push(r);
        continue;
      }
      if (seen.has(r.id)) continue;
      seen.add(r.id);
      photos.push(r);
      if (limit !== undefined && photos.length >= limit) return { photos, rejected };
    }
  }
  return { photos, rejected };
}
