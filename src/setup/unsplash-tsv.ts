/**
 * Reads Unsplash dataset TSV parts (`photos.tsv000`, `photos.tsv001`, …). Unsplash's own loader
 * imports them with PostgreSQL `COPY … (FORMAT csv, DELIMITER E'\t')`, so fields follow CSV quoting:
 * a field may be wrapped in `"…"`, contain tabs or newlines, and escape `"` as `""`. No CSV library
 * is installed, hence this small streaming parser. Every part starts with its own header line, and
 * columns are looked up by name because older releases have fewer of them.
 */
import { createReadStream } from 'node:fs';

/** Streams the records of a delimited file with CSV quoting rules. */
export async function* readDelimited(file: string, delimiter = '\t'): AsyncGenerator<string[]> {
  const stream = createReadStream(file, { encoding: 'utf8', highWaterMark: 1 << 16 });
  let field = '';
  let record: string[] = [];
  let inQuotes = false;
  // After a closing quote we may see `"` (escaped quote) — decided when the next char arrives.
  let quotePending = false;
  let atFieldStart = true;
  let first = true;
  try {
    for await (const chunk of stream as AsyncIterable<string>) {
      let text = chunk;
      if (first) {
        first = false;
        if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      }
      const out: string[][] = [];
      for (let i = 0; i < text.length; i++) {
        const c = text[i] as string;
        if (inQuotes) {
          if (quotePending) {
            quotePending = false;
            if (c === '"') {
              field += '"';
              continue;
            }
            inQuotes = false;
            // fall through: c is handled as an unquoted character below
          } else if (c === '"') {
            quotePending = true;
            continue;
          } else {
            field += c;
            continue;
          }
        }
        if (c === '"' && atFieldStart) {
          inQuotes = true;
          atFieldStart = false;
        } else if (c === delimiter) {
          record.push(field);
          field = '';
          atFieldStart = true;
        } else if (c === '\n') {
          if (field.endsWith('\r')) field = field.slice(0, -1);
          record.push(field);
          out.push(record);
          record = [];
          field = '';
          atFieldStart = true;
        } else {
          field += c;
          atFieldStart = false;
        }
      }
      for (const r of out) yield r;
    }
    if (quotePending) inQuotes = false;
    if (field !== '' || record.length > 0) {
      if (field.endsWith('\r')) field = field.slice(0, -1);
      record.push(field);
      yield record;
    }
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
