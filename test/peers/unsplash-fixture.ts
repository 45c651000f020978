/**
 * A generated stand-in for the Unsplash Lite archive: `photos.tsv000` + `photos.tsv001` (each with a
 * header, all columns of test/fixtures/unsplash/columns.json, CSV quoting where a field needs it)
 * whose `photo_image_url`s point back at the test peer, plus the images those URLs serve: good
 * JPEGs and every kind of trouble a real crawl meets.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { FIXTURES_DIR } from '../support/fixtures.ts';
import { makeZip } from './zip-writer.ts';

/** How the peer answers for a photo's image. */
export type PhotoKind =
  | 'good'
  /** 404: deleted upstream. */
  | 'missing'
  /** 410 Gone. */
  | 'gone'
  /** Accepts the connection and never answers. */
  | 'hang'
  /** First half of a JPEG. */
  | 'truncated'
  /** Random bytes served as image/jpeg. */
  | 'corrupt'
  /** A good JPEG, trickled slowly (within the client's deadline). */
  | 'slow'
  /** 500 on the first request, good afterwards. */
  | 'flaky';

export interface PhotoSpec {
  id: string;
  kind: PhotoKind;
}

export const PHOTO_COLUMNS: string[] = (
  JSON.parse(readFileSync(path.join(FIXTURES_DIR, 'unsplash', 'columns.json'), 'utf8')) as {
    photos: string[];
  }
).photos;

export const KEYWORD_COLUMNS: string[] = (
  JSON.parse(readFileSync(path.join(FIXTURES_DIR, 'unsplash', 'columns.json'), 'utf8')) as {
    keywords: string[];
  }
).keywords;

/** One row of `keywords.tsv*`: a photo tagged with a keyword by the AI services and/or a person. */
export interface KeywordTag {
  photoId: string;
  keyword: string;
  ai1?: number;
  ai2?: number;
  user?: boolean;
}

/** TSV text of a keywords part, columns in the documented order (Postgres booleans as t/f). */
export function keywordsTsv(tags: readonly KeywordTag[]): string {
  const lines = [KEYWORD_COLUMNS.join('\t')];
  for (const t of tags) {
    const row: Record<string, string> = {
      photo_id: t.photoId,
      keyword: t.keyword,
      ai_service_1_confidence: t.ai1 === undefined ? '' : String(t.ai1),
      ai_service_2_confidence: t.ai2 === undefined ? '' : String(t.ai2),
      suggested_by_user: t.user ? 't' : 'f',
    };
    lines.push(KEYWORD_COLUMNS.map((c) => tsvField(row[c] ?? '')).join('\t'));
  }
  return `${lines.join('\n')}\n`;
}

/**
 * Tags for a photo set: every good photo is "nature"; even ones are also "mountain" (AI-confident),
 * odd ones "lake" (confident only for service 2, or suggested by a person); "blurry" is below any
 * sensible confidence.
 */
export function standardKeywords(specs: readonly PhotoSpec[]): KeywordTag[] {
  const tags: KeywordTag[] = [];
  specs.forEach((s, i) => {
    if (s.kind !== 'good') return;
    tags.push({ photoId: s.id, keyword: 'nature', ai1: 90 });
    if (i % 2 === 0) tags.push({ photoId: s.id, keyword: 'Mountain', ai1: 80.5, ai2: 12 });
    else if (i % 3 === 0) tags.push({ photoId: s.id, keyword: 'lake', ai2: 70 });
    else tags.push({ photoId: s.id, keyword: 'lake', user: true });
    tags.push({ photoId: s.id, keyword: 'blurry', ai1: 20 });
  });
  return tags;
}

/** `n` good photos followed by one of each troublesome kind. Ids look like Unsplash's 11-char slugs. */
export function standardPhotos(
  good: number,
  extra: PhotoKind[] = ['missing', 'gone', 'hang', 'truncated', 'corrupt', 'slow', 'flaky'],
): PhotoSpec[] {
  const specs: PhotoSpec[] = [];
  for (let i = 0; i < good; i++) specs.push({ id: `good${String(i).padStart(7, '0')}`, kind: 'good' });
  for (const kind of extra) specs.push({ id: `${kind}${'x'.repeat(11 - kind.length)}`.slice(0, 11), kind });
  return specs;
}

function tsvField(v: string): string {
  return /["\t\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

function photoRow(spec: PhotoSpec, i: number, imageBase: string): Record<string, string> {
  return {
    photo_id: spec.id,
    photo_url: `https://unsplash.com/photos/${spec.id}`,
    photo_image_url: `${imageBase}/photo-${spec.id}`,
    photo_submitted_at: '2020-01-01 00:00:00',
    photo_featured: 't',
    photo_width: String(4000 + i),
    photo_height: '3000',
    photo_aspect_ratio: '1.33',
    // One description exercises CSV quoting: embedded quotes, a tab and a newline.
    photo_description: i === 1 ? 'A "quoted"\tdescription\nover two lines' : `photo number ${i}`,
    photographer_username: `user${i}`,
    photographer_first_name: `First${i}`,
    photographer_last_name: i % 2 ? `Last${i}` : '',
    ai_description: `ai description ${i}`,
  };
}

/** TSV text of one part: header line + rows, columns in the documented order. */
export function photosTsv(specs: PhotoSpec[], imageBase: string, startIndex = 0): string {
  const lines = [PHOTO_COLUMNS.join('\t')];
  specs.forEach((s, k) => {
    const row = photoRow(s, startIndex + k, imageBase);
    lines.push(PHOTO_COLUMNS.map((c) => tsvField(row[c] ?? '')).join('\t'));
  });
  return `${lines.join('\n')}\n`;
}

/** The archive: photos split over two parts, plus members setup must ignore. */
export function unsplashZip(specs: PhotoSpec[], imageBase: string, padBytes = 0): Buffer {
  const half = Math.ceil(specs.length / 2);
  return makeZip([
    { name: 'unsplash-research-dataset-lite-latest/README.md', data: Buffer.from('# fixture\n') },
    {
      name: 'unsplash-research-dataset-lite-latest/photos.tsv000',
      data: Buffer.from(photosTsv(specs.slice(0, half), imageBase)),
    },
    {
      name: 'unsplash-research-dataset-lite-latest/photos.tsv001',
      data: Buffer.from(photosTsv(specs.slice(half), imageBase, half)),
    },
    {
      name: 'unsplash-research-dataset-lite-latest/keywords.tsv000',
      data: Buffer.from(keywordsTsv(standardKeywords(specs))),
    },
    // Incompressible padding so an archive download takes long enough to be interrupted.
    ...(padBytes > 0
      ? [{ name: 'padding.bin', data: pseudoRandom(padBytes, 7), method: 'store' as const }]
      : []),
  ]);
}

/** Deterministic noise (xorshift), so fixtures are reproducible. */
export function pseudoRandom(n: number, seed: number): Buffer {
  const out = Buffer.alloc(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** A small real JPEG whose colour depends on the id (distinct images embed differently). */
export async function goodJpeg(id: string): Promise<Buffer> {
  let h = 0;
  for (const ch of id) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
  const noise = pseudoRandom(64 * 48 * 3, h);
  const base = [h & 0xff, (h >> 8) & 0xff, (h >> 16) & 0xff];
  for (let i = 0; i < noise.length; i++)
    noise[i] = ((base[i % 3] as number) + ((noise[i] as number) & 0x3f)) & 0xff;
  return sharp(noise, { raw: { width: 64, height: 48, channels: 3 } })
    .jpeg({ quality: 90 })
    .toBuffer();
}

/** The bytes served for a photo, or undefined for kinds that send no body. */
export async function imageBytes(spec: PhotoSpec): Promise<Buffer | undefined> {
  switch (spec.kind) {
    case 'good':
    case 'slow':
    case 'flaky':
      return goodJpeg(spec.id);
    case 'truncated': {
      const full = await goodJpeg(spec.id);
      return full.subarray(0, Math.floor(full.length / 2));
    }
    case 'corrupt':
      return Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), pseudoRandom(2000, 99)]);
    default:
      return undefined;
  }
}
