import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTextModel, buildVisionModel } from '../../scripts/fixture-model/clip-graphs.ts';
import { PRESETS } from '../../scripts/fixture-model/generate.ts';
import { seededRandom } from '../../scripts/fixture-model/graph-builder.ts';
import { ClipModel } from '../../src/clip/clip-model.ts';
import { silentLogger } from '../../src/util/logger.ts';
import { dot } from '../../src/vector/math.ts';
import { IMAGES_DIR, tempDir } from '../support/fixtures.ts';
import { getTinyModelDir } from '../support/models.ts';

const logger = silentLogger();
const norm = (v: Float32Array) => Math.sqrt(dot(v, v));
const images = ['cat_chelsea.png', 'rocket_launchpad.jpg', 'horse_silhouette_rgba.png'].map((f) =>
  readFileSync(path.join(IMAGES_DIR, f)),
);

describe('ClipModel on the tiny fixture model', () => {
  let dir: string;
  let fp32: ClipModel;
  beforeAll(async () => {
    dir = await getTinyModelDir();
    fp32 = await ClipModel.load({ dir, variant: 'fp32', logger });
  });
  afterAll(async () => fp32.close());

  it('reads the model id and dimension from config.json', () => {
    expect(fp32.modelId).toBe('imagesearch-fixture/clip-tiny-seed1');
    expect(fp32.dim).toBe(512);
  });

  it('feeds the real token length (never 77) and pads a batch only to its longest text', () => {
    const one = fp32.textFeeds(['a cat'], ['input_ids', 'attention_mask']);
    expect(one.input_ids!.dims).toEqual([1, 4]);
    const batch = fp32.textFeeds(
      ['a cat', 'a photo of a dog on a red sofa'],
      ['input_ids', 'attention_mask'],
    );
    expect(batch.input_ids!.dims).toEqual([2, 11]);
    expect(Array.from(batch.attention_mask!.data as BigInt64Array).map(Number)).toEqual([
      ...[1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0],
      ...[1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1],
    ]);
    // Inputs the session does not declare are not fed.
    expect(Object.keys(fp32.textFeeds(['x'], ['input_ids']))).toEqual(['input_ids']);
  });

  it('gives L2-normalised text embeddings; batching does not change them', async () => {
    const texts = ['a cat', 'a photo of a dog on a red sofa', '🐱 & <b>'];
    const batch = await fp32.embedTexts(texts);
    for (let i = 0; i < texts.length; i++) {
      expect(norm(batch[i]!)).toBeCloseTo(1, 5);
      const [single] = await fp32.embedTexts([texts[i]!]);
      expect(dot(single!, batch[i]!)).toBeGreaterThan(0.99999);
    }
    expect(dot(batch[0]!, batch[1]!)).toBeLessThan(0.999);
  });

  it('gives L2-normalised image embeddings; batching does not change them', async () => {
    const batch = await fp32.embedImages(images);
    for (let i = 0; i < images.length; i++) {
      expect(norm(batch[i]!)).toBeCloseTo(1, 5);
      const [single] = await fp32.embedImages([images[i]!]);
      expect(dot(single!, batch[i]!)).toBeGreaterThan(0.99999);
    }
  });

  it.each(['fp16', 'quantized'] as const)('the %s variant loads and agrees with fp32', async (variant) => {
    const m = await ClipModel.load({ dir, variant, logger });
    expect(m.file('text')).toMatch(
      variant === 'fp16' ? /text_model_fp16\.onnx$/ : /text_model_quantized\.onnx$/,
    );
    const [t32] = await fp32.embedTexts(['a tabby cat']);
    const [tv] = await m.embedTexts(['a tabby cat']);
    expect(dot(t32!, tv!)).toBeGreaterThan(0.98);
    const i32 = await fp32.embedImages(images);
    const iv = await m.embedImages(images);
    for (let i = 0; i < images.length; i++) expect(dot(i32[i]!, iv[i]!)).toBeGreaterThan(0.98);
    expect((await m.providers()).vision).toBe('cpu');
    await m.close();
  });
});

describe('ClipModel with a fixed-length text export', () => {
  it('pads to the length the graph demands and gives the same embedding', async () => {
    const dir = tempDir();
    cpSync(await getTinyModelDir(), dir, { recursive: true });
    const bytes = buildTextModel('fp32', seededRandom(1), PRESETS.tiny.text, PRESETS.tiny.projection, 77);
    writeFileSync(path.join(dir, 'onnx', 'text_model.onnx'), bytes);
    const fixed = await ClipModel.load({ dir, variant: 'fp32', logger });
    const dynamic = await ClipModel.load({ dir: await getTinyModelDir(), variant: 'fp32', logger });
    const [a] = await fixed.embedTexts(['a tabby cat']);
    const [b] = await dynamic.embedTexts(['a tabby cat']);
    expect(dot(a!, b!)).toBeGreaterThan(0.9999);
    await fixed.close();
    await dynamic.close();
  });
});

describe('ClipModel with a fixed-batch vision export', () => {
  it('feeds one image at a time and gives the same embeddings as the batched model', async () => {
    const dir = tempDir();
    cpSync(await getTinyModelDir(), dir, { recursive: true });
    const bytes = buildVisionModel('fp32', seededRandom(2), PRESETS.tiny.vision, PRESETS.tiny.projection, 1);
    writeFileSync(path.join(dir, 'onnx', 'vision_model.onnx'), bytes);
    const fixed = await ClipModel.load({ dir, variant: 'fp32', logger });
    const dynamic = await ClipModel.load({ dir: await getTinyModelDir(), variant: 'fp32', logger });
    const a = await fixed.embedImages(images);
    const b = await dynamic.embedImages(images);
    expect(a).toHaveLength(images.length);
    for (let i = 0; i < images.length; i++) expect(dot(a[i]!, b[i]!)).toBeGreaterThan(0.9999);
    await fixed.close();
    await dynamic.close();
  });
});

describe('ClipModel errors', () => {
  it('a missing model says what to run or set', async () => {
    await expect(ClipModel.load({ dir: path.join(tempDir(), 'nope'), logger })).rejects.toMatchObject({
      code: 'model_missing',
      userMessage: expect.stringMatching(/npx imagesearch setup.*IMAGESEARCH_MODEL_DIR/s),
    });
  });

  it('a missing variant names the files it expected', async () => {
    const dir = tempDir();
    cpSync(await getTinyModelDir(), dir, { recursive: true });
    rmSync(path.join(dir, 'onnx', 'vision_model_fp16.onnx'));
    await expect(ClipModel.load({ dir, variant: 'fp16', logger })).rejects.toMatchObject({
      code: 'model_missing',
      userMessage: expect.stringContaining('vision_model_fp16.onnx'),
    });
  });

  it('a garbage model file fails with a message naming it, and a fixed file loads on the next try', async () => {
    const dir = tempDir();
    cpSync(await getTinyModelDir(), dir, { recursive: true });
    const file = path.join(dir, 'onnx', 'text_model.onnx');
    const good = readFileSync(file);
    writeFileSync(file, Buffer.from('this is not an onnx model'));
    const m = await ClipModel.load({ dir, variant: 'fp32', logger });
    await expect(m.embedTexts(['cat'])).rejects.toMatchObject({
      code: 'model_invalid',
      userMessage: expect.stringContaining('text_model.onnx'),
    });
    writeFileSync(file, good);
    expect(await m.embedTexts(['cat'])).toHaveLength(1);
    await m.close();
  });

  it('a broken tokenizer.json or config.json is reported as such', async () => {
    const dir = tempDir();
    cpSync(await getTinyModelDir(), dir, { recursive: true });
    writeFileSync(path.join(dir, 'config.json'), '{ broken');
    await expect(ClipModel.load({ dir, logger })).rejects.toMatchObject({
      code: 'model_invalid',
      userMessage: expect.stringContaining('config.json'),
    });
  });
});
