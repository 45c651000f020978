import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { ImageSearchError } from '../core/errors.ts';
import type { Embedder } from '../core/types.ts';
import { floatToHalfArray, halfToFloat } from '../util/half-float.ts';
import type { Logger } from '../util/logger.ts';
import { l2normalize } from '../vector/math.ts';
import {
  checkImageSize,
  loadPreprocessConfig,
  MAX_QUERY_PIXELS,
  type PreprocessConfig,
  preprocessInto,
} from './preprocess.ts';
import { createSession, type ProviderChoice, type ProviderName } from './providers.ts';
import { ClipTokenizer } from './tokenizer.ts';

export type ModelVariant = 'auto' | 'fp32' | 'fp16' | 'quantized';

const SUFFIX: Record<Exclude<ModelVariant, 'auto'>, string> = {
  fp32: '',
  fp16: '_fp16',
  quantized: '_quantized',
};
/** `auto` picks the first variant present: full precision first, then the small int8 download. */
const AUTO_ORDER: Exclude<ModelVariant, 'auto'>[] = ['fp32', 'quantized', 'fp16'];

export interface ClipModelOptions {
  dir: string;
  variant?: ModelVariant;
  provider?: ProviderChoice;
  threads?: number;
  logger: Logger;
  /** onnxruntime session options over the defaults (the benchmark's sweep; see providers.ts). */
  tuning?: Partial<ort.InferenceSession.SessionOptions>;
}

/** One encoder's memoised session. */
interface Encoder {
  session: ort.InferenceSession;
  provider: ProviderName;
  floatType: 'float32' | 'float16';
  /** A text export traced without a dynamic sequence axis needs exactly this many tokens. */
  fixedSeqLen: number | undefined;
  /** An export traced with a fixed batch size (usually 1) is fed that many rows at a time. */
  fixedBatch: number | undefined;
}

/**
 * CLIP on onnxruntime-node, from a model directory in Hugging Face export layout
 * (`onnx/text_model*.onnx`, `onnx/vision_model*.onnx`, `tokenizer.json`, `preprocessor_config.json`,
 * `config.json`). Sessions are created lazily and memoised; embeddings are L2-normalised.
 */
export class ClipModel implements Embedder {
  readonly modelId: string;
  readonly dim: number;
  readonly variant: Exclude<ModelVariant, 'auto'>;
  private text: Promise<Encoder> | undefined;
  private vision: Promise<Encoder> | undefined;

  private constructor(
    private readonly opts: Required<Omit<ClipModelOptions, 'variant' | 'tuning'>> &
      Pick<ClipModelOptions, 'tuning'>,
    variant: Exclude<ModelVariant, 'auto'>,
    readonly tokenizer: ClipTokenizer,
    readonly preprocess: PreprocessConfig,
    config: { id: string; dim: number },
  ) {
    this.variant = variant;
    this.modelId = config.id;
    this.dim = config.dim;
  }

  static async load(options: ClipModelOptions): Promise<ClipModel> {
    const dir = path.resolve(options.dir);
    if (!existsSync(path.join(dir, 'onnx'))) {
      throw new ImageSearchError(
        'model_missing',
        `No CLIP model found in ${dir}. Run \`npx imagesearch setup\` to download one, or set IMAGESEARCH_MODEL_DIR to a folder in Hugging Face layout (onnx/text_model.onnx, onnx/vision_model.onnx, tokenizer.json, preprocessor_config.json, config.json) — e.g. the files of https://huggingface.co/Xenova/clip-vit-base-patch32.`,
      );
    }
    const variant = pickVariant(dir, options.variant ?? 'auto');
    const config = readModelConfig(dir);
    const [tokenizer, preprocess] = await Promise.all([
      ClipTokenizer.fromDir(dir),
      loadPreprocessConfig(dir),
    ]);
    return new ClipModel(
      {
        dir,
        provider: options.provider ?? 'auto',
        threads: options.threads ?? 0,
        logger: options.logger,
        ...(options.tuning ? { tuning: options.tuning } : {}),
      },
      variant,
      tokenizer,
      preprocess,
      config,
    );
  }

  /** Path of one encoder's ONNX file for the chosen variant. */
  file(kind: 'text' | 'vision'): string {
    return path.join(this.opts.dir, 'onnx', `${kind}_model${SUFFIX[this.variant]}.onnx`);
  }

  /** The provider each loaded encoder runs on (for logs, doctor and /readyz). */
  async providers(): Promise<{ text?: ProviderName; vision?: ProviderName }> {
    const out: { text?: ProviderName; vision?: ProviderName } = {};
    if (this.text) out.text = (await this.text).provider;
    if (this.vision) out.vision = (await this.vision).provider;
    return out;
  }

  /** Loads both encoders now instead of on first use. */
  async warm(which: ('text' | 'vision')[] = ['text', 'vision']): Promise<void> {
    await Promise.all(which.map((k) => this.encoder(k)));
  }

  private encoder(kind: 'text' | 'vision'): Promise<Encoder> {
    const existing = kind === 'text' ? this.text : this.vision;
    if (existing) return existing;
    const created = this.createEncoder(kind);
    // A failed load is not memoised: the next call tries again (the file may have been fixed).
    created.catch(() => {
      if (kind === 'text') this.text = undefined;
      else this.vision = undefined;
    });
    if (kind === 'text') this.text = created;
    else this.vision = created;
    return created;
  }

  private async createEncoder(kind: 'text' | 'vision'): Promise<Encoder> {
    const file = this.file(kind);
    const started = performance.now();
    const { session, provider } = await createSession(file, {
      provider: this.opts.provider,
      threads: this.opts.threads,
      logger: this.opts.logger,
      ...(this.opts.tuning ? { tuning: this.opts.tuning } : {}),
    });
    const outputName = kind === 'text' ? 'text_embeds' : 'image_embeds';
    if (!session.outputNames.includes(outputName)) {
      throw new ImageSearchError(
        'model_invalid',
        `${path.basename(file)} has no "${outputName}" output (it has ${session.outputNames.join(', ')}). Use a CLIP export with projection (…WithProjection).`,
      );
    }
    const inputMeta = session.inputMetadata.find((m) => m.name === 'pixel_values');
    const floatType = inputMeta?.isTensor && inputMeta.type === 'float16' ? 'float16' : 'float32';
    this.opts.logger.info(
      {
        encoder: kind,
        file: path.basename(file),
        provider,
        variant: this.variant,
        mb: Math.round(statSync(file).size / 1e5) / 10,
        ms: Math.round(performance.now() - started),
      },
      'CLIP encoder loaded',
    );
    const first = session.inputMetadata[0];
    const batchDim = first?.isTensor ? first.shape[0] : undefined;
    const fixedBatch = typeof batchDim === 'number' && batchDim > 0 ? batchDim : undefined;
    const ids = session.inputMetadata.find((m) => m.name === 'input_ids');
    const seqDim = ids?.isTensor ? ids.shape[1] : undefined;
    const fixedSeqLen = typeof seqDim === 'number' && seqDim > 0 ? seqDim : undefined;
    if (fixedSeqLen) {
      this.opts.logger.warn(
        { file: path.basename(file), fixedSeqLen },
        'text model has a fixed sequence length: queries are padded (slower); re-export with a dynamic axis',
      );
    }
    return { session, provider, floatType, fixedSeqLen, fixedBatch };
  }

  /** Token ids for each text (start/end included, truncated at 77, unpadded). */
  tokenize(text: string): number[] {
    return this.tokenizer.encode(text);
  }

  /**
   * The text encoder's inputs for a batch: ids padded only to the longest text in the batch (never
   * to 77 — short queries run several times faster), attention mask, position ids if declared.
   * Only the inputs the session declares are fed.
   */
  textFeeds(texts: string[], inputNames: readonly string[], padTo?: number): Record<string, ort.Tensor> {
    const ids = texts.map((t) => this.tokenizer.encode(t));
    const len = Math.max(padTo ?? 0, ...ids.map((i) => i.length));
    const idData = new BigInt64Array(texts.length * len).fill(BigInt(this.tokenizer.padId));
    const maskData = new BigInt64Array(texts.length * len);
    ids.forEach((row, b) => {
      row.forEach((id, j) => {
        idData[b * len + j] = BigInt(id);
        maskData[b * len + j] = 1n;
      });
    });
    const feeds: Record<string, ort.Tensor> = {};
    if (inputNames.includes('input_ids'))
      feeds.input_ids = new ort.Tensor('int64', idData, [texts.length, len]);
    if (inputNames.includes('attention_mask'))
      feeds.attention_mask = new ort.Tensor('int64', maskData, [texts.length, len]);
    if (inputNames.includes('position_ids')) {
      const pos = new BigInt64Array(texts.length * len);
      for (let i = 0; i < pos.length; i++) pos[i] = BigInt(i % len);
      feeds.position_ids = new ort.Tensor('int64', pos, [texts.length, len]);
    }
    return feeds;
  }

  /** `padTo` exists for the benchmark's padded-to-77 baseline; the product never pads. */
  async embedTexts(texts: string[], opts: { padTo?: number } = {}): Promise<Float32Array[]> {
    if (texts.length === 0) return [];
    const enc = await this.encoder('text');
    if (enc.fixedBatch && texts.length !== enc.fixedBatch)
      return this.inChunks(texts, enc.fixedBatch, (c) => this.embedTexts(c, opts));
    const padTo = enc.fixedSeqLen ?? opts.padTo;
    const out = await enc.session.run(this.textFeeds(texts, enc.session.inputNames, padTo), ['text_embeds']);
    return this.split(out.text_embeds!, texts.length);
  }

  /** A query image's header, held to {@link MAX_QUERY_PIXELS} before anything is decoded. */
  checkImage(bytes: Buffer): Promise<void> {
    return checkImageSize(bytes, MAX_QUERY_PIXELS);
  }

  async embedImages(images: Buffer[]): Promise<Float32Array[]> {
    if (images.length === 0) return [];
    const enc = await this.encoder('vision');
    if (enc.fixedBatch && images.length !== enc.fixedBatch)
      return this.inChunks(images, enc.fixedBatch, (c) => this.embedImages(c));
    const { cropWidth, cropHeight } = this.preprocess;
    const per = 3 * cropWidth * cropHeight;
    const pixels = new Float32Array(images.length * per);
    // Decoding runs on libuv's pool; a bad image rejects here with a friendly ImageSearchError.
    await Promise.all(images.map((img, i) => preprocessInto(img, this.preprocess, pixels, i * per)));
    const dims = [images.length, 3, cropHeight, cropWidth];
    const tensor =
      enc.floatType === 'float16'
        ? new ort.Tensor('float16', floatToHalfArray(pixels), dims)
        : new ort.Tensor('float32', pixels, dims);
    const out = await enc.session.run({ pixel_values: tensor }, ['image_embeds']);
    return this.split(out.image_embeds!, images.length);
  }

  /** Runs `fn` on chunks of exactly `size` rows (the last one padded by repetition), for fixed-batch exports. */
  private async inChunks<T>(
    items: T[],
    size: number,
    fn: (chunk: T[]) => Promise<Float32Array[]>,
  ): Promise<Float32Array[]> {
    const out: Float32Array[] = [];
    for (let i = 0; i < items.length; i += size) {
      const chunk = items.slice(i, i + size);
      const real = chunk.length;
      while (chunk.length < size) chunk.push(chunk[0]!);
      out.push(...(await fn(chunk)).slice(0, real));
    }
    return out;
  }

  private split(t: ort.Tensor, rows: number): Float32Array[] {
    const data = t.type === 'float16' ? halfToFloat(t.data as Uint16Array) : (t.data as Float32Array);
    const dim = data.length / rows;
    if (dim !== this.dim) {
      throw new ImageSearchError(
        'model_invalid',
        `The model returned ${dim}-dimensional embeddings but config.json says projection_dim ${this.dim}.`,
      );
    }
    const outRows: Float32Array[] = [];
    for (let r = 0; r < rows; r++) outRows.push(l2normalize(data.slice(r * dim, (r + 1) * dim)));
    return outRows;
  }

  async close(): Promise<void> {
    const sessions = await Promise.allSettled([this.text, this.vision].filter(Boolean));
    for (const s of sessions) if (s.status === 'fulfilled' && s.value) await s.value.session.release();
    this.text = undefined;
    this.vision = undefined;
  }
}

function pickVariant(dir: string, wanted: ModelVariant): Exclude<ModelVariant, 'auto'> {
  const has = (v: Exclude<ModelVariant, 'auto'>) =>
    existsSync(path.join(dir, 'onnx', `text_model${SUFFIX[v]}.onnx`)) &&
    existsSync(path.join(dir, 'onnx', `vision_model${SUFFIX[v]}.onnx`));
  if (wanted !== 'auto') {
    if (has(wanted)) return wanted;
    throw new ImageSearchError(
      'model_missing',
      `The ${wanted} variant is not in ${dir}: expected onnx/text_model${SUFFIX[wanted]}.onnx and onnx/vision_model${SUFFIX[wanted]}.onnx. Set IMAGESEARCH_MODEL_VARIANT=auto to use what is there.`,
    );
  }
  const found = AUTO_ORDER.find(has);
  if (!found) {
    throw new ImageSearchError(
      'model_missing',
      `No text/vision ONNX pair in ${dir}/onnx (looked for text_model.onnx + vision_model.onnx, and the _quantized and _fp16 variants). Run \`npx imagesearch setup\` or set IMAGESEARCH_MODEL_DIR.`,
    );
  }
  return found;
}

/** Model id (recorded in indexes) and embedding size from config.json. */
function readModelConfig(dir: string): { id: string; dim: number } {
  let raw: { _name_or_path?: unknown; projection_dim?: unknown };
  try {
    raw = JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8')) as typeof raw;
  } catch (e) {
    throw new ImageSearchError(
      'model_invalid',
      `The model's config.json in ${dir} is missing or not valid JSON.`,
      {
        cause: e,
      },
    );
  }
  const dim = typeof raw.projection_dim === 'number' && raw.projection_dim > 0 ? raw.projection_dim : 512;
  const id =
    typeof raw._name_or_path === 'string' && raw._name_or_path ? raw._name_or_path : path.basename(dir);
  return { id, dim };
}
