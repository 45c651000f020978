import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import type { GridImage, GridTile } from '../../src/core/types.ts';
import { GRID_DEFAULTS, gridFileName, gridLayout, SharpGridRenderer } from '../../src/grid/grid-renderer.ts';
import { truncateGraphemes, xmlEscape } from '../../src/grid/grid-svg.ts';

type Rgb = [number, number, number];

const RED: Rgb = [230, 30, 30];
const GREEN: Rgb = [30, 200, 60];
const BLUE: Rgb = [40, 60, 220];
const YELLOW: Rgb = [240, 220, 40];
const BG: Rgb = [0x1c, 0x1c, 0x1c];
const PLACEHOLDER: Rgb = [0x3a, 0x3a, 0x3a];

/** A solid-colour PNG (lossless, so the only colour error is the grid's own JPEG). */
function solidImage(rgb: Rgb, width = 300, height = 200): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: { r: rgb[0], g: rgb[1], b: rgb[2] } } })
    .png()
    .toBuffer();
}

function noiseImage(seedShift: number): Promise<Buffer> {
  return sharp({
    create: {
      width: 640,
      height: 640,
      channels: 3,
      background: '#000000', // required by the types; the noise replaces it
      noise: { type: 'gaussian', mean: 100 + seedShift, sigma: 80 },
    },
  })
    .jpeg({ quality: 95 })
    .toBuffer();
}

interface Decoded {
  width: number;
  height: number;
  format: string | undefined;
  at(x: number, y: number): Rgb;
  mean(x: number, y: number, w: number, h: number): Rgb;
}

async function decode(img: GridImage): Promise<Decoded> {
  const meta = await sharp(img.bytes).metadata();
  const { data, info } = await sharp(img.bytes).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  expect(info.channels).toBe(3);
  expect([info.width, info.height]).toEqual([img.width, img.height]);
  const at = (x: number, y: number): Rgb => {
    const i = (Math.round(y) * info.width + Math.round(x)) * 3;
    return [data[i]!, data[i + 1]!, data[i + 2]!];
  };
  const mean = (x: number, y: number, w: number, h: number): Rgb => {
    const sum = [0, 0, 0];
    for (let yy = y; yy < y + h; yy++) {
      for (let xx = x; xx < x + w; xx++) {
        const [r, g, b] = at(xx, yy);
        sum[0]! += r;
        sum[1]! += g;
        sum[2]! += b;
      }
    }
    return sum.map((s) => s / (w * h)) as Rgb;
  };
  return { width: info.width, height: info.height, format: meta.format, at, mean };
}

function expectNear(actual: Rgb, expected: Rgb, tolerance = 10): void {
  const ok = actual.every((v, k) => Math.abs(v - expected[k]!) <= tolerance);
  expect(ok, `${actual.map(Math.round).join(',')} ≈ ${expected.join(',')} ±${tolerance}`).toBe(true);
}

/** Mean colour of a tile's lower-right area, well clear of the badge in its top-left corner. */
function tileBody(d: Decoded, cell: { x: number; y: number }, tileSize: number): Rgb {
  const q = Math.round(tileSize * 0.4);
  return d.mean(cell.x + q, cell.y + q, tileSize - q - 8, tileSize - q - 8);
}

/** Points (in the badge's 100-unit box) that lie on each digit's stroke. */
const DIGIT_POINTS: Record<number, [number, number]> = { 1: [54, 50], 2: [50, 75], 3: [48, 49], 4: [59, 45] };

function checkBadge(
  d: Decoded,
  cell: { x: number; y: number },
  n: number,
  tileSize: number,
  tile: Rgb,
): void {
  const { offset, size } = gridLayout(4, tileSize).badge;
  const bx = cell.x + offset;
  const by = cell.y + offset;
  const u = (v: number) => (v / 100) * size;
  // Inside the disc but clear of the digit: dark, whatever the tile colour underneath.
  for (const [px, py] of [
    [50, 12],
    [18, 50],
    [82, 50],
  ] as const) {
    const c = d.at(bx + u(px), by + u(py));
    expect(Math.max(...c), `badge ${n} disc at ${px},${py} is dark: ${c}`).toBeLessThan(90);
    expect(Math.max(...tile)).toBeGreaterThan(150); // the tile itself is not dark there
  }
  const [dx, dy] = DIGIT_POINTS[n]!;
  const digit = d.at(bx + u(dx), by + u(dy));
  expect(Math.min(...digit), `badge ${n} digit stroke is white: ${digit}`).toBeGreaterThan(170);
}

async function tiles(colours: (Rgb | null)[]): Promise<GridTile[]> {
  return Promise.all(colours.map(async (c, i) => ({ n: i + 1, image: c ? await solidImage(c) : null })));
}

describe('SharpGridRenderer', () => {
  const renderer = new SharpGridRenderer();

  it('lays out four results as a 2x2 grid with a gutter, each tile its image, each badge numbered', async () => {
    const colours = [RED, GREEN, BLUE, YELLOW];
    const img = await renderer.render(await tiles(colours));
    const layout = gridLayout(4, 512);
    expect(layout.width).toBe(1024 + layout.gutter);
    expect(img.mime).toBe('image/jpeg');
    const d = await decode(img);
    expect(d.format).toBe('jpeg');
    expect([d.width, d.height]).toEqual([layout.width, layout.tilesHeight]);
    colours.forEach((c, i) => {
      expectNear(tileBody(d, layout.cells[i]!, 512), c);
      checkBadge(d, layout.cells[i]!, i + 1, 512, c);
    });
    // The gutter between tiles 1 and 2 is background, not image.
    expectNear(d.at(512 + layout.gutter / 2, 300), BG, 14);
    expectNear(d.at(300, 512 + layout.gutter / 2), BG, 14);
  });

  it('shows one result as a single tile', async () => {
    const img = await renderer.render(await tiles([BLUE]));
    const d = await decode(img);
    expect([d.width, d.height]).toEqual([512, 512]);
    expectNear(tileBody(d, { x: 0, y: 0 }, 512), BLUE);
    checkBadge(d, { x: 0, y: 0 }, 1, 512, BLUE);
  });

  it('shows two results side by side', async () => {
    const img = await renderer.render(await tiles([RED, BLUE]));
    const layout = gridLayout(2, 512);
    const d = await decode(img);
    expect([d.width, d.height]).toEqual([1024 + layout.gutter, 512]);
    expectNear(tileBody(d, layout.cells[0]!, 512), RED);
    expectNear(tileBody(d, layout.cells[1]!, 512), BLUE);
    checkBadge(d, layout.cells[1]!, 2, 512, BLUE);
  });

  it('shows three results in a 2x2 grid with an empty, badge-free fourth cell', async () => {
    const img = await renderer.render(await tiles([RED, GREEN, YELLOW]));
    const layout = gridLayout(3, 512);
    const d = await decode(img);
    expect([d.width, d.height]).toEqual([layout.width, layout.width]);
    expectNear(tileBody(d, layout.cells[2]!, 512), YELLOW);
    const fourth = { x: 512 + layout.gutter, y: 512 + layout.gutter };
    expectNear(d.mean(fourth.x, fourth.y, 512, 512), BG, 6);
    expectNear(d.mean(fourth.x, fourth.y, 80, 80), BG, 6); // where a badge would be
  });

  it('draws a placeholder for a missing, undecodable or truncated image and never throws', async () => {
    const good = await solidImage(GREEN);
    const truncated = (await sharp(good).jpeg().toBuffer()).subarray(0, 200);
    const img = await renderer.render([
      { n: 1, image: null },
      { n: 2, image: Buffer.from('<html>not an image</html>') },
      { n: 3, image: truncated },
      { n: 4, image: good },
    ]);
    const layout = gridLayout(4, 512);
    const d = await decode(img);
    for (const i of [0, 1, 2]) {
      const cell = layout.cells[i]!;
      const body = d.mean(cell.x + 8, cell.y + 440, 496, 64); // below the icon and text
      expectNear(body, PLACEHOLDER, 8);
      // The icon is drawn: its lighter strokes sit in the middle of the tile.
      const centre = d.mean(cell.x + 150, cell.y + 130, 212, 170);
      expect(Math.max(...centre)).toBeGreaterThan(PLACEHOLDER[0] + 8);
      checkBadge(d, cell, i + 1, 512, [200, 200, 200]);
    }
    expectNear(tileBody(d, layout.cells[3]!, 512), GREEN);
  });

  it('encodes PNG on request, losslessly', async () => {
    const img = await renderer.render(await tiles([RED, GREEN, BLUE, YELLOW]), {
      format: 'png',
      tileSize: 128,
    });
    expect(img.mime).toBe('image/png');
    const d = await decode(img);
    expect(d.format).toBe('png');
    const layout = gridLayout(4, 128);
    expect([d.width, d.height]).toEqual([layout.width, layout.tilesHeight]);
    expect(d.at(layout.cells[2]!.x + 100, layout.cells[2]!.y + 100)).toEqual(BLUE);
    expect(d.at(layout.cells[3]!.x + 64, layout.cells[3]!.y + 120)).toEqual(YELLOW);
  });

  it('honours maxBytes by stepping quality, then scale, down', async () => {
    const noisy = await Promise.all(
      [0, 10, 20, 30].map((s, i) => noiseImage(s).then((image) => ({ n: i + 1, image }))),
    );
    const full = await renderer.render(noisy);
    expect(full.bytes.length).toBeGreaterThan(300_000);
    const capped = await renderer.render(noisy, { maxBytes: 250_000 });
    expect(capped.bytes.length).toBeLessThanOrEqual(250_000);
    const tiny = await renderer.render(noisy, { maxBytes: 60_000 });
    expect(tiny.bytes.length).toBeLessThanOrEqual(60_000);
    expect(tiny.width).toBeLessThan(full.width); // quality alone could not get there
    const d = await decode(tiny);
    expect(d.width).toBe(tiny.width);
    await expect(renderer.render(noisy, { maxBytes: 500 })).rejects.toMatchObject({
      code: 'image_too_large',
    });
  });

  it('adds a footer band with hostile text escaped and rendered', async () => {
    const base = await renderer.render(await tiles([RED, GREEN, BLUE, YELLOW]));
    const footer = [
      'cats <script>alert("x")</script> & \'sofa\' 🐱‍👤',
      'Photos: Zoë Ärger 名前 · \u0000\u0007 bell · 🇺🇦',
    ];
    const img = await renderer.render(await tiles([RED, GREEN, BLUE, YELLOW]), { footer });
    expect(img.height).toBeGreaterThan(base.height + 40);
    expect(img.width).toBe(base.width);
    const d = await decode(img);
    const top = gridLayout(4, 512).tilesHeight;
    // The band is background with light text on it.
    let bright = 0;
    for (let y = top; y < d.height; y++)
      for (let x = 0; x < 400; x++) if (Math.min(...d.at(x, y)) > 180) bright++;
    expect(bright).toBeGreaterThan(100);
    expectNear(d.mean(d.width - 60, top + 2, 50, d.height - top - 4), BG, 6); // right end: no text
  });

  it('keeps tiles beyond four in a 3-column grid and rejects an empty list', async () => {
    const img = await renderer.render(await tiles([RED, GREEN, BLUE, YELLOW, RED, GREEN]), { tileSize: 100 });
    const layout = gridLayout(6, 100);
    expect([img.width, img.height]).toEqual([layout.width, layout.tilesHeight]);
    expect(layout.cols).toBe(3);
    await expect(renderer.render([])).rejects.toMatchObject({ code: 'not_found' });
  });

  it('defaults to an 8 MiB cap and 512 px tiles', () => {
    expect(GRID_DEFAULTS.maxBytes).toBe(8 * 1024 * 1024);
    expect(GRID_DEFAULTS.tileSize).toBe(512);
  });
});

describe('grid text helpers', () => {
  it('escapes markup and strips characters XML cannot carry', () => {
    const out = xmlEscape('<script>&"\'\u0000\u001b\uD800ok');
    expect(out).toBe('&lt;script&gt;&amp;&quot;&apos;ok');
  });

  it('truncates by grapheme, keeping emoji whole', () => {
    expect(truncateGraphemes('ab🐱‍👤cd', 4)).toBe('ab🐱‍👤…');
    expect(truncateGraphemes('short', 10)).toBe('short');
  });
});

describe('gridFileName', () => {
  it.each([
    ['cats on a sofa', 'image/jpeg', 'imagesearch-cats-on-a-sofa.jpg'],
    ['Café déjà vu 🐱!!', 'image/jpeg', 'imagesearch-cafe-deja-vu.jpg'],
    ['猫', 'image/png', 'imagesearch-results.png'],
    ['../../etc/passwd', 'image/jpeg', 'imagesearch-etc-passwd.jpg'],
    ['', 'image/jpeg', 'imagesearch-results.jpg'],
  ] as const)('%s → %s', (query, mime, expected) => {
    expect(gridFileName(query, mime)).toBe(expected);
  });

  it('caps long queries at a word boundary', () => {
    const name = gridFileName('a very long query about '.repeat(10), 'image/jpeg');
    expect(name.length).toBeLessThanOrEqual('imagesearch-'.length + 60 + 4);
    expect(name).toMatch(/^imagesearch-[a-z0-9]+(-[a-z0-9]+)*\.jpg$/);
  });
});
