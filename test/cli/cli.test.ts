import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeNpy } from '../../src/index/npy.ts';
import { type GeminiPeer, startGeminiPeer } from '../peers/gemini-peer.ts';
import { cliEnv, expectFriendlyError, runCli } from '../support/cli.ts';
import { FIXTURES_DIR, IMAGES_DIR, tempDir } from '../support/fixtures.ts';

let baseEnv: NodeJS.ProcessEnv;

const cli = (args: string[], env: NodeJS.ProcessEnv = {}) => runCli(args, { ...baseEnv, ...env });

beforeAll(async () => {
  baseEnv = await cliEnv();
});

describe('imagesearch tokenize', () => {
  it('prints one JSON line per text with unpadded ids', async () => {
    const r = await cli(['tokenize', '--json', 'Hello World!', 'a photo of a cat']);
    expect(r.code).toBe(0);
    const lines = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { text: string; ids: number[] });
    const golden = JSON.parse(
      readFileSync(path.join(FIXTURES_DIR, 'clip', 'token_vectors.json'), 'utf8'),
    ) as {
      text: string;
      ids: number[];
    }[];
    expect(lines).toEqual([
      { text: 'Hello World!', ids: golden.find((g) => g.text === 'Hello World!')!.ids },
      { text: 'a photo of a cat', ids: golden.find((g) => g.text === 'a photo of a cat')!.ids },
    ]);
  });

  it('without --json prints the ids, then a tab and the text', async () => {
    const r = await cli(['tokenize', 'a photo of a cat']);
    expect(r.code).toBe(0);
    const golden = JSON.parse(
      readFileSync(path.join(FIXTURES_DIR, 'clip', 'token_vectors.json'), 'utf8'),
    ) as { text: string; ids: number[] }[];
    const ids = golden.find((g) => g.text === 'a photo of a cat')!.ids;
    expect(r.stdout).toBe(`${ids.join(' ')}\ta photo of a cat\n`);
  });
});

describe('imagesearch search', () => {
  it('--json prints the shown picks in order, timings and the ranking source; --out writes the grid', async () => {
    const out = path.join(tempDir(), 'grid.jpg');
    const r = await cli(['search', '--json', '--out', out, 'cats', 'on', 'a', 'sofa']);
    expect(r.code).toBe(0);
    const json = JSON.parse(r.stdout) as {
      query: string;
      results: { id: string; score: number; rank: number }[];
      rankedBy: string;
      fallbackReason?: string;
      timingsMs: Record<string, number>;
    };
    expect(json.query).toBe('cats on a sofa');
    expect(json.results.map((x) => x.rank)).toEqual([1, 2, 3, 4]);
    expect(new Set(json.results.map((x) => x.id)).size).toBe(4);
    expect(json.rankedBy).toBe('clip');
    expect(json.fallbackReason).toBe('no_api_key');
    for (const k of ['encode', 'search', 'rerank', 'compose', 'total'])
      expect(json.timingsMs[k]).toBeTypeOf('number');
    // The pipeline encoded the words itself: a real encode stage, inside the total.
    expect(json.timingsMs.encode).toBeGreaterThan(0);
    expect(json.timingsMs.total).toBeGreaterThanOrEqual(json.timingsMs.encode!);
    const meta = await sharp(readFileSync(out)).metadata();
    expect(meta.format).toBe('jpeg');
    expect(meta.width).toBeGreaterThan(500);
  });

  it('--k prints more results than the grid shows; --image finds that image first', async () => {
    const r = await cli([
      'search',
      '--json',
      '--k',
      '7',
      '--image',
      path.join(IMAGES_DIR, 'greek_coins_bw.png'),
    ]);
    expect(r.code).toBe(0);
    const json = JSON.parse(r.stdout) as {
      results: { id: string; score: number; rank: number }[];
      timingsMs: Record<string, number>;
    };
    expect(json.results).toHaveLength(7);
    // The image is encoded by the pipeline, inside its timings.
    expect(json.timingsMs.encode).toBeGreaterThan(0);
    expect(json.timingsMs.total).toBeGreaterThanOrEqual(json.timingsMs.encode!);
    expect(json.results[0]).toMatchObject({ id: 'greek_coins_bw.png', rank: 1 });
    expect(json.results[0]!.score).toBeGreaterThan(0.999);
    expect(json.results.map((x) => x.rank)).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });

  it('--out NAME.png writes a PNG grid, --format jpeg a JPEG whatever the name', async () => {
    const dir = tempDir();
    const png = path.join(dir, 'grid.png');
    expect((await cli(['search', '--no-rerank', '--out', png, 'cats'])).code).toBe(0);
    expect((await sharp(readFileSync(png)).metadata()).format).toBe('png');
    const forced = path.join(dir, 'forced.png');
    expect((await cli(['search', '--format', 'jpeg', '--out', forced, 'cats'])).code).toBe(0);
    expect((await sharp(readFileSync(forced)).metadata()).format).toBe('jpeg');
  });

  it('says so plainly, exits non-zero and writes no grid when nothing passes the junk floor', async () => {
    const out = path.join(tempDir(), 'grid.jpg');
    const r = await cli(['search', '--out', out, 'cats', 'on', 'a', 'sofa'], {
      IMAGESEARCH_MIN_SCORE: '0.99',
    });
    expectFriendlyError(r, /nothing.*good enough.*cats on a sofa.*no grid written/i);
    expect(r.stdout).not.toMatch(/^\s+\d+\. /m);
    expect(existsSync(out)).toBe(false);
    const json = await cli(['search', '--json', 'cats'], { IMAGESEARCH_MIN_SCORE: '0.99' });
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({ query: 'cats', results: [] });
  });

  it('prints only results that pass the junk floor, as the grid shows', async () => {
    const out = path.join(tempDir(), 'grid.jpg');
    const image = path.join(IMAGES_DIR, 'greek_coins_bw.png');
    const r = await cli(['search', '--json', '--k', '7', '--out', out, '--image', image], {
      IMAGESEARCH_MIN_SCORE: '0.999',
    });
    expect(r.code).toBe(0);
    const json = JSON.parse(r.stdout) as { results: { id: string; score: number }[] };
    expect(json.results.map((x) => x.id)).toEqual(['greek_coins_bw.png']);
    expect(readFileSync(out).length).toBeGreaterThan(0);
  });

  describe('with Gemini', () => {
    let peer: GeminiPeer;
    beforeAll(async () => {
      peer = await startGeminiPeer({ mode: 'success' });
    });
    afterAll(async () => peer.close());

    it('reorders with Gemini, and --no-rerank keeps CLIP order without calling it', async () => {
      const env = { GEMINI_API_KEY: 'test-key-not-secret', GEMINI_BASE_URL: peer.url };
      const clip = JSON.parse(
        (await cli(['search', '--json', '--no-rerank', 'red', 'bricks'], env)).stdout,
      ) as {
        results: { id: string }[];
        rankedBy: string;
        fallbackReason: string;
      };
      expect(peer.requests).toHaveLength(0);
      expect(clip).toMatchObject({ rankedBy: 'clip', fallbackReason: 'rerank_skipped' });
      const gem = JSON.parse((await cli(['search', '--json', 'red', 'bricks'], env)).stdout) as {
        results: { id: string }[];
        rankedBy: string;
        fallbackReason?: string;
        timingsMs: { rerank: number };
      };
      expect(peer.requests.length).toBeGreaterThan(0);
      expect(gem.rankedBy).toBe('gemini');
      expect(gem.fallbackReason).toBeUndefined();
      // The peer picks the 10 candidates in reverse, so the shown four differ from CLIP's top four.
      expect(gem.results.map((x) => x.id)).not.toEqual(clip.results.map((x) => x.id));
    });
  });
});

describe('imagesearch index and import-npy', () => {
  it('indexes a folder and searches it', async () => {
    const out = tempDir();
    const r = await cli(['index', '--out', out, '--images', IMAGES_DIR, '--no-progress']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Indexed 11 images/);
    // The fixture photos are inside the IMAGES_DIR the runs allow: no hint.
    expect(r.stdout).not.toMatch(/To serve these photos/);
    const s = await cli([
      'search',
      '--json',
      '--index',
      out,
      '--image',
      path.join(IMAGES_DIR, 'cat_chelsea.png'),
    ]);
    expect((JSON.parse(s.stdout) as { results: { id: string }[] }).results[0]!.id).toBe('cat_chelsea.png');
  });

  it('says which setting serves photos outside the folder the bot may serve from', async () => {
    const r = await cli(['index', '--out', tempDir(), '--images', IMAGES_DIR, '--no-progress'], {
      IMAGES_DIR: tempDir(),
    });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`To serve these photos, set IMAGES_DIR=${path.resolve(IMAGES_DIR)}`);
  });

  it('imports features.npy + photo_ids.csv', async () => {
    const dir = tempDir();
    const m = new Float32Array(3 * 512).map((_, i) => Math.sin(i));
    writeFileSync(path.join(dir, 'features.npy'), encodeNpy(m, 3, 512));
    writeFileSync(path.join(dir, 'photo_ids.csv'), 'photo_id\na\nb\nc\n');
    const out = path.join(dir, 'index');
    const r = await cli([
      'import-npy',
      '--features',
      path.join(dir, 'features.npy'),
      '--ids',
      path.join(dir, 'photo_ids.csv'),
      '--out',
      out,
    ]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Imported 3 vectors/);
    expect(existsSync(path.join(out, 'index.json'))).toBe(true);
  });
});

describe('CLI errors: one clear line, non-zero exit, no stack trace', () => {
  it('no query', async () => expectFriendlyError(await cli(['search']), /Say what to look for/, 2));
  it('text and image together', async () =>
    expectFriendlyError(
      await cli(['search', 'cat', '--image', 'x.jpg']),
      /one of text, --image or --vector/,
      2,
    ));
  it('missing model says what to download and where', async () =>
    expectFriendlyError(
      await cli(['search', 'cat'], { IMAGESEARCH_MODEL_DIR: '/nonexistent/model' }),
      /No CLIP model found in \/nonexistent\/model.*imagesearch setup/,
    ));
  it('missing index', async () =>
    expectFriendlyError(
      await cli(['search', 'cat'], { IMAGESEARCH_INDEX_DIR: tempDir() }),
      /No index found/,
    ));
  it('index built with another model', async () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'features.npy'), encodeNpy(new Float32Array(512).fill(0.1), 1, 512));
    writeFileSync(path.join(dir, 'ids.csv'), 'photo_id\na\n');
    await cli([
      'import-npy',
      '--features',
      path.join(dir, 'features.npy'),
      '--ids',
      path.join(dir, 'ids.csv'),
      '--out',
      path.join(dir, 'i'),
    ]);
    expectFriendlyError(
      await cli(['search', 'cat'], { IMAGESEARCH_INDEX_DIR: path.join(dir, 'i') }),
      /built with model "openai\/clip-vit-base-patch32"/,
    );
  });
  it('unreadable image', async () =>
    expectFriendlyError(
      await cli(['search', '--image', '/nonexistent.jpg']),
      /Can't read \/nonexistent\.jpg/,
    ));
  it('corrupt image', async () => {
    const f = path.join(tempDir(), 'bad.jpg');
    writeFileSync(f, 'nope');
    expectFriendlyError(await cli(['search', '--image', f]), /couldn't be read/);
  });
  it('bad arguments', async () => {
    expectFriendlyError(await cli(['search', '--k', 'lots', 'cat']), /--k must be a positive integer/, 2);
    expectFriendlyError(
      await cli(['index', '--out', tempDir()]),
      /exactly one of --images DIR or --manifest FILE/,
      2,
    );
    expectFriendlyError(await cli(['frobnicate']), /unknown command/, 2);
  });
  it('bad configuration names the variable, never its value', async () => {
    const r = await cli(['search', 'cat'], { GEMINI_TIMEOUT_MS: 'soon-secretvalue' });
    expectFriendlyError(r, /GEMINI_TIMEOUT_MS/);
    expect(r.stderr).not.toContain('secretvalue');
  });
});
