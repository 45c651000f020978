/**
 * Composes the numbered result grid with sharp.
 *
 * The canvas is assembled as one raw RGB buffer in JS (tiles are copied row by row, badges
 * alpha-blended), then encoded once. That is faster than a libvips composite of eight layers and
 * makes every pixel deterministic, which the tests rely on.
 *
 * Layouts: 1 result → one tile; 2 → side by side (1×2); 3 → 2×2 with the 4th cell left empty in
 * the background colour, so numbers keep their places and the grid stays square (chat clients
 * preview square images largest); 4 → 2×2. Up to 9 tiles fall into a 3-column grid.
 */
import sharp from 'sharp';
import { ImageSearchError } from '../core/errors.ts';
import type { GridImage, GridOptions, GridRenderer, GridTile } from '../core/types.ts';
import { badgeSvg, footerMetrics, footerSvg, placeholderSvg } from './grid-svg.ts';

/** Renderer-wide options; {@link GridOptions} given to `render` override the matching ones per call. */
export interface GridRendererOptions {
  /** Side of one square tile in px (`GridOptions.tileSize` overrides). */
  tileSize: number;
  format: 'jpeg' | 'png';
  /** First JPEG quality tried; lower ones follow only when the byte cap requires. */
  jpegQuality: number;
  /**
   * Upper bound of the encoded grid. 8 MiB leaves headroom under Discord's 10 MiB upload limit for
   * unboosted servers (Slack allows far more), multipart overhead included.
   */
  maxBytes: number;
  /** Decompression-bomb guard for tile inputs (width × height). */
  maxInputPixels: number;
  /** Gutters, the empty cell and the footer band. */
  background: string;
  /** Fill of the "image unavailable" tile. */
  placeholder: string;
}

export const GRID_DEFAULTS = {
  tileSize: 512,
  format: 'jpeg',
  jpegQuality: 82,
  maxBytes: 8 * 1024 * 1024,
  maxInputPixels: 50_000_000,
  background: '#1c1c1c',
  placeholder: '#3a3a3a',
} as const satisfies GridRendererOptions;

/** Tiles beyond this are dropped: a chat grid of more than 3×3 is unreadable. */
export const MAX_TILES = 9;
const JPEG_QUALITY_STEPS = [82, 72, 62, 52, 42, 34];
const SCALE_STEPS = [1, 0.75, 0.5, 0.35, 0.25];

/** Where things go in a grid of `count` tiles. Exported so callers (and tests) need no magic numbers. */
export interface GridLayout {
  cols: number;
  rows: number;
  tileSize: number;
  gutter: number;
  width: number;
  /** Height of the tile area; the footer band starts here. */
  tilesHeight: number;
  /** Top-left corner of each tile, in order. */
  cells: { x: number; y: number }[];
  /** Badge square, relative to its tile's top-left corner. */
  badge: { offset: number; size: number };
}

export function gridLayout(count: number, tileSize: number): GridLayout {
  const n = Math.max(1, Math.min(MAX_TILES, count));
  const cols = n === 1 ? 1 : n <= 4 ? 2 : 3;
  const rows = Math.ceil(n / cols);
  const gutter = Math.max(2, Math.round(tileSize / 64));
  const cells = Array.from({ length: n }, (_, i) => ({
    x: (i % cols) * (tileSize + gutter),
    y: Math.floor(i / cols) * (tileSize + gutter),
  }));
  const badgeSize = Math.max(24, Math.round(tileSize * 0.13));
  return {
    cols,
    rows,
    tileSize,
    gutter,
    width: cols * tileSize + (cols - 1) * gutter,
    tilesHeight: rows * tileSize + (rows - 1) * gutter,
    cells,
    badge: { offset: Math.round(tileSize * 0.025), size: badgeSize },
  };
}

/** `imagesearch-cats-on-a-sofa.jpg`: ASCII slug (accents folded, anything else dropped), capped at 60 chars. */
export function gridFileName(query: string, mime: 'image/jpeg' | 'image/png'): string {
  const slug = query
    .normalize('NFKD')
    .replace(/\p{M}/gu, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
  let capped = slug.slice(0, 60);
  // Cut at a word boundary when one is near, so names don't end in half a word.
  if (slug.length > 60 && capped.lastIndexOf('-') > 30) capped = capped.slice(0, capped.lastIndexOf('-'));
  capped = capped.replace(/-+$/, '');
  return `imagesearch-${capped || 'results'}.${mime === 'image/png' ? 'png' : 'jpg'}`;
}

type Rgb = [number, number, number];

function parseHex(color: string): Rgb {
  const m = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(color);
  if (!m) throw new ImageSearchError('config_invalid', `Grid colours must be #rrggbb, got ${color}.`);
  return [Number.parseInt(m[1]!, 16), Number.parseInt(m[2]!, 16), Number.parseInt(m[3]!, 16)];
}

/** A raw RGB image held in JS. */
interface Raw {
  data: Buffer;
  width: number;
  height: number;
}

function solid(width: number, height: number, rgb: Rgb): Raw {
  // Buffer.fill repeats the 3-byte pattern natively: ~15x faster than a JS loop over 3 MB.
  return { data: Buffer.allocUnsafe(width * height * 3).fill(Buffer.from(rgb)), width, height };
}

function blit(dst: Raw, src: Raw, x: number, y: number): void {
  const rowBytes = src.width * 3;
  for (let r = 0; r < src.height; r++) {
    src.data.copy(dst.data, ((y + r) * dst.width + x) * 3, r * rowBytes, (r + 1) * rowBytes);
  }
}

/** Alpha-blends an RGBA overlay onto the RGB canvas. */
function blend(dst: Raw, rgba: Raw, x: number, y: number): void {
  for (let r = 0; r < rgba.height; r++) {
    for (let c = 0; c < rgba.width; c++) {
      const s = (r * rgba.width + c) * 4;
      const a = rgba.data[s + 3]!;
      if (a === 0) continue;
      const d = ((y + r) * dst.width + x + c) * 3;
      for (let k = 0; k < 3; k++) {
        dst.data[d + k] = Math.round((rgba.data[s + k]! * a + dst.data[d + k]! * (255 - a)) / 255);
      }
    }
  }
}

async function svgToRaw(svg: string, channels: 3 | 4, background: string): Promise<Raw> {
  let img = sharp(Buffer.from(svg));
  img = channels === 3 ? img.flatten({ background }).removeAlpha() : img.ensureAlpha();
  const { data, info } = await img.raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}

export class SharpGridRenderer implements GridRenderer {
  private readonly opts: GridRendererOptions;
  private readonly bg: Rgb;
  /** Badges and placeholders depend only on size and number: rendered once, reused by every grid. */
  private readonly overlays = new Map<string, Promise<Raw>>();

  constructor(options: Partial<GridRendererOptions> = {}) {
    this.opts = { ...GRID_DEFAULTS, ...options };
    this.bg = parseHex(this.opts.background);
    parseHex(this.opts.placeholder);
  }

  async render(tiles: GridTile[], opts: GridOptions = {}): Promise<GridImage> {
    if (tiles.length === 0) throw new ImageSearchError('not_found', 'There are no images to show.');
    const shown = tiles.slice(0, MAX_TILES);
    const tileSize = Math.max(64, Math.min(2048, Math.round(opts.tileSize ?? this.opts.tileSize)));
    const layout = gridLayout(shown.length, tileSize);
    const footer = (opts.footer ?? []).filter((l) => l.trim() !== '').slice(0, 4);
    const footerHeight = footerMetrics(tileSize, footer.length).height;

    const [tilePixels, footerPixels] = await Promise.all([
      Promise.all(shown.map((t) => this.tilePixels(t.image, tileSize))),
      footer.length > 0 ? this.footerPixels(footer, layout.width, tileSize) : undefined,
    ]);
    const canvas = solid(layout.width, layout.tilesHeight + footerHeight, this.bg);
    const badges = await Promise.all(shown.map((t) => this.overlay(`badge:${t.n}:${layout.badge.size}`)));
    shown.forEach((_, i) => {
      const cell = layout.cells[i]!;
      blit(canvas, tilePixels[i]!, cell.x, cell.y);
      blend(canvas, badges[i]!, cell.x + layout.badge.offset, cell.y + layout.badge.offset);
    });
    if (footerPixels) blit(canvas, footerPixels, 0, layout.tilesHeight);

    const format = opts.format ?? this.opts.format;
    return this.encode(canvas, format, opts.maxBytes ?? this.opts.maxBytes);
  }

  private overlay(key: string): Promise<Raw> {
    let p = this.overlays.get(key);
    if (!p) {
      const [kind, a, b] = key.split(':');
      p =
        kind === 'badge'
          ? svgToRaw(badgeSvg(Number(a), Number(b)), 4, this.opts.background)
          : svgToRaw(placeholderSvg(Number(a), this.opts.placeholder), 3, this.opts.placeholder).catch(() =>
              solid(Number(a), Number(a), parseHex(this.opts.placeholder)),
            );
      // A failed render is not cached: the next grid tries again.
      p.catch(() => this.overlays.delete(key));
      this.overlays.set(key, p);
    }
    return p;
  }

  /** The tile's pixels, cover-cropped to a square; the placeholder for a missing or broken image. */
  private async tilePixels(image: Buffer | null, size: number): Promise<Raw> {
    if (image !== null) {
      try {
        const img = sharp(image, { limitInputPixels: this.opts.maxInputPixels, failOn: 'truncated' });
        const meta = await img.metadata(); // header only; the pipeline below reuses the same input
        // Upscaling (a 640×427 thumbnail covering 512×512) invents detail anyway, and lanczos3 costs
        // twice as much as linear there; the grid bench's p50 depends on it. Downscales keep lanczos3.
        const upscale = Math.min(meta.width ?? 0, meta.height ?? 0) < size;
        const { data, info } = await img
          .rotate()
          .resize(size, size, { fit: 'cover', kernel: upscale ? 'linear' : 'lanczos3' })
          .flatten({ background: '#ffffff' })
          .toColourspace('srgb')
          .removeAlpha()
          .raw()
          .toBuffer({ resolveWithObject: true });
        if (info.width === size && info.height === size && info.channels === 3) {
          return { data, width: size, height: size };
        }
      } catch {
        // Undecodable, truncated or too large: the grid still goes out, with a placeholder here.
      }
    }
    return this.overlay(`placeholder:${size}`);
  }

  private async footerPixels(lines: string[], width: number, tileSize: number): Promise<Raw> {
    try {
      return await svgToRaw(footerSvg(lines, width, tileSize, this.opts.background), 3, this.opts.background);
    } catch {
      // Text is a nicety; a font or SVG problem leaves an empty band rather than failing the search.
      return solid(width, footerMetrics(tileSize, lines.length).height, this.bg);
    }
  }

  /** Encodes, stepping quality (JPEG) or palette (PNG) down, then scale, until under `maxBytes`. */
  private async encode(canvas: Raw, format: 'jpeg' | 'png', maxBytes: number): Promise<GridImage> {
    const raw = { raw: { width: canvas.width, height: canvas.height, channels: 3 as const } };
    const qualities = JPEG_QUALITY_STEPS.filter((q) => q < this.opts.jpegQuality);
    qualities.unshift(this.opts.jpegQuality);
    let smallest = Number.POSITIVE_INFINITY;
    for (const scale of SCALE_STEPS) {
      const width = Math.max(1, Math.round(canvas.width * scale));
      const height = Math.max(1, Math.round(canvas.height * scale));
      const base = () => {
        const img = sharp(canvas.data, raw);
        return scale === 1 ? img : img.resize(width, height, { fit: 'fill' });
      };
      // Below full size, only the lower qualities: the top ones already failed at a larger size.
      const steps = scale === 1 ? qualities : qualities.slice(-3);
      // optimiseCoding off: Huffman optimisation halves encode speed for ~5% fewer bytes.
      const attempts: (() => Promise<Buffer>)[] =
        format === 'png'
          ? [() => base().png().toBuffer(), () => base().png({ palette: true }).toBuffer()]
          : steps.map(
              (quality) => () => base().jpeg({ quality, mozjpeg: false, optimiseCoding: false }).toBuffer(),
            );
      for (const attempt of attempts) {
        const bytes = await attempt();
        if (bytes.length <= maxBytes) {
          return { bytes, mime: format === 'png' ? 'image/png' : 'image/jpeg', width, height };
        }
        smallest = Math.min(smallest, bytes.length);
      }
    }
    throw new ImageSearchError('image_too_large', 'The result image came out too large to send.', {
      detail: `smallest encoding ${smallest} bytes > maxBytes ${maxBytes}`,
    });
  }
}
