/**
 * SVG sources of the grid's overlays: number badges, the "image unavailable" placeholder and the
 * footer band. Kept apart from the renderer so the drawing can change without touching layout code.
 *
 * Digits 1–4 are drawn as stroked paths rather than `<text>`: they then look the same on every
 * machine, even a container without fonts, and tests can rely on where the strokes are not.
 */

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** Escapes text for SVG/XML and drops what XML 1.0 cannot carry (control chars, lone surrogates). */
export function xmlEscape(text: string): string {
  return (
    text
      .replace(LONE_SURROGATE, '')
      // biome-ignore lint/suspicious/noControlCharactersInRegex: removing exactly these is the point
      .replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F\uFFFE\uFFFF]/g, '')
      .replace(/[\t\n\r]/g, ' ')
      .replace(/&/g, '&amp;')
      .replace(/</g, '&lt;')
      .replace(/>/g, '&gt;')
      .replace(/"/g, '&quot;')
      .replace(/'/g, '&apos;')
  );
}

const segmenter = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

/** Cuts text to at most `max` user-visible characters (grapheme clusters, so emoji stay whole), adding "…". */
export function truncateGraphemes(text: string, max: number): string {
  const graphemes = Array.from(segmenter.segment(text), (s) => s.segment);
  if (graphemes.length <= max) return text;
  return `${graphemes
    .slice(0, Math.max(0, max - 1))
    .join('')
    .trimEnd()}…`;
}

const FONT_FAMILY = 'DejaVu Sans, Noto Sans, Liberation Sans, Arial, Helvetica, sans-serif';

/** Stroke paths of digits 1–4 in a 100×100 box, centred on (50, 50), spanning y 25–75. */
const DIGIT_PATHS: Record<number, string> = {
  1: 'M40 35 L54 25 L54 75',
  2: 'M35 37 C35 27 42 25 50 25 C59 25 65 30 65 38 C65 50 45 58 35 75 L66 75',
  3: 'M36 31 C42 24 64 23 64 37 C64 45 57 49 48 49 C59 49 66 54 66 63 C66 79 42 80 35 69',
  4: 'M59 75 L59 25 L33 61 L68 61',
};

/** Badge geometry in its own 100-unit box: circle radius and ring width. Tests read these too. */
export const BADGE = {
  radius: 46,
  ring: 4,
  /** Digit strokes stay inside x 28–72, y 19–81 (path extent plus half the stroke width). */
  digitStroke: 11,
} as const;

/** A round badge: dark semi-opaque disc, thin white ring, white bold digit. `size` in pixels. */
export function badgeSvg(n: number, size: number): string {
  const digit = DIGIT_PATHS[n];
  const glyph = digit
    ? `<path d="${digit}" fill="none" stroke="#ffffff" stroke-width="${BADGE.digitStroke}" stroke-linecap="round" stroke-linejoin="round"/>`
    : `<text x="50" y="50" dy="0.36em" text-anchor="middle" font-family="${FONT_FAMILY}" font-weight="bold" font-size="${String(n).length > 1 ? 46 : 60}" fill="#ffffff">${xmlEscape(String(n))}</text>`;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${size}" height="${size}" viewBox="0 0 100 100">
<circle cx="50" cy="50" r="${BADGE.radius}" fill="#000000" fill-opacity="0.78" stroke="#ffffff" stroke-opacity="0.9" stroke-width="${BADGE.ring}"/>
${glyph}
</svg>`;
}

/** A neutral tile with a crossed-out picture icon and "image unavailable". */
export function placeholderSvg(size: number, fill: string): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${size}" height="${size}" viewBox="0 0 100 100">
<rect width="100" height="100" fill="${fill}"/>
<g fill="none" stroke="#a0a0a0" stroke-width="2.4" stroke-linejoin="round" stroke-linecap="round">
<rect x="32" y="28" width="36" height="28" rx="3"/>
<path d="M35 52 L45 41 L52 48 L57 44 L65 52"/>
<circle cx="59" cy="36" r="3"/>
<path d="M29 62 L71 22"/>
</g>
<text x="50" y="72" text-anchor="middle" font-family="${FONT_FAMILY}" font-size="6" fill="#c8c8c8">image unavailable</text>
</svg>`;
}

/** Footer band metrics for a grid `width` px wide whose tiles are `tileSize` px. */
export function footerMetrics(tileSize: number, lines: number) {
  const fontSize = Math.max(10, Math.round(tileSize * 0.042));
  const lineHeight = Math.round(fontSize * 1.4);
  const padding = Math.round(fontSize * 0.7);
  return { fontSize, lineHeight, padding, height: lines > 0 ? padding * 2 + lines * lineHeight : 0 };
}

/** The footer band: first line (the query) bold and bright, the rest (credits) lighter. */
export function footerSvg(
  lines: readonly string[],
  width: number,
  tileSize: number,
  background: string,
): string {
  const { fontSize, lineHeight, padding, height } = footerMetrics(tileSize, lines.length);
  // DejaVu Sans averages ~0.6 em per character; cutting by estimate avoids measuring text twice.
  const maxChars = Math.max(8, Math.floor((width - 2 * padding) / (fontSize * 0.6)));
  const texts = lines.map((line, i) => {
    const y = padding + i * lineHeight + Math.round(lineHeight * 0.72);
    const style = i === 0 ? 'font-weight="bold" fill="#f4f4f4"' : 'fill="#b8b8b8"';
    return `<text x="${padding}" y="${y}" font-family="${FONT_FAMILY}" font-size="${fontSize}" ${style}>${xmlEscape(truncateGraphemes(line, maxChars))}</text>`;
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">
<rect width="${width}" height="${height}" fill="${background}"/>
${texts.join('\n')}
</svg>`;
}
