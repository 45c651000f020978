/**
 * CLIP text and vision transformers as ONNX graphs, with the inputs and outputs of the Hugging Face
 * export (Xenova / Optimum layout):
 *   text_model:   input_ids int64 [batch, seq], attention_mask int64 [batch, seq]
 *                 → text_embeds [batch, proj], last_hidden_state [batch, seq, width]
 *   vision_model: pixel_values float [batch, 3, H, W]
 *                 → image_embeds [batch, proj], last_hidden_state [batch, tokens, width]
 * Weights are seeded random: the architecture (and so the cost) is real, the semantics are not.
 */
import { DataType, GraphBuilder, type Variant } from './graph-builder.ts';

export interface TextSize {
  width: number;
  layers: number;
  heads: number;
  mlp: number;
  vocab: number;
  positions: number;
}

export interface VisionSize {
  width: number;
  layers: number;
  heads: number;
  mlp: number;
  imageSize: number;
  patch: number;
}

const EPS = 1e-5;
const NEG = -1e9;

function layerNorm(g: GraphBuilder, x: string, width: number, name: string): string {
  const gamma = g.filled(`${name}.weight`, [width], 1);
  const beta = g.filled(`${name}.bias`, [width], 0);
  return g.op('LayerNormalization', [x, gamma, beta], { axis: -1, epsilon: EPS });
}

function linear(
  g: GraphBuilder,
  x: string,
  inDim: number,
  outDim: number,
  name: string,
  bias = true,
): string {
  const w = g.weight(`${name}.weight`, [inDim, outDim], 1 / Math.sqrt(inDim));
  const y = g.op('MatMul', [x, w]);
  if (!bias) return y;
  const b = g.weight(`${name}.bias`, [outDim], 0.01, false);
  return g.op('Add', [y, b]);
}

/** x · sigmoid(1.702 x), CLIP's activation. */
function quickGelu(g: GraphBuilder, x: string): string {
  const k = g.floats([1.702], []);
  const s = g.op('Sigmoid', [g.op('Mul', [x, k])]);
  return g.op('Mul', [x, s]);
}

function encoderLayer(
  g: GraphBuilder,
  x: string,
  size: { width: number; heads: number; mlp: number },
  name: string,
  mask?: string,
): string {
  const { width, heads, mlp } = size;
  const headDim = width / heads;
  const h = layerNorm(g, x, width, `${name}.layer_norm1`);
  const splitHeads = (t: string) =>
    g.op('Transpose', [g.op('Reshape', [t, g.ints([0, 0, heads, headDim])])], { perm: [0, 2, 1, 3] });
  const q = splitHeads(
    g.op('Mul', [linear(g, h, width, width, `${name}.self_attn.q_proj`), g.floats([headDim ** -0.5], [])]),
  );
  const k = splitHeads(linear(g, h, width, width, `${name}.self_attn.k_proj`));
  const v = splitHeads(linear(g, h, width, width, `${name}.self_attn.v_proj`));
  let scores = g.op('MatMul', [q, g.op('Transpose', [k], { perm: [0, 1, 3, 2] })]);
  if (mask) scores = g.op('Add', [scores, mask]);
  const attn = g.op('MatMul', [g.op('Softmax', [scores], { axis: -1 }), v]);
  const merged = g.op('Reshape', [g.op('Transpose', [attn], { perm: [0, 2, 1, 3] }), g.ints([0, 0, width])]);
  const x1 = g.op('Add', [x, linear(g, merged, width, width, `${name}.self_attn.out_proj`)]);
  const h2 = layerNorm(g, x1, width, `${name}.layer_norm2`);
  const m = linear(
    g,
    quickGelu(g, linear(g, h2, width, mlp, `${name}.mlp.fc1`)),
    mlp,
    width,
    `${name}.mlp.fc2`,
  );
  return g.op('Add', [x1, m]);
}

function floatIo(variant: Variant): number {
  return variant === 'fp16' ? DataType.FLOAT16 : DataType.FLOAT;
}

/** `fixedSeqLen` mimics exports traced without a dynamic sequence axis (inputs fixed at e.g. 77). */
export function buildTextModel(
  variant: Variant,
  rng: () => number,
  s: TextSize,
  projection: number,
  fixedSeqLen?: number,
): Uint8Array {
  const g = new GraphBuilder(variant, rng);
  const seq = fixedSeqLen ?? 'sequence_length';
  const ids = g.input('input_ids', DataType.INT64, ['batch_size', seq]);
  const mask = g.input('attention_mask', DataType.INT64, ['batch_size', seq]);

  const tokenEmb = g.weight('text_model.embeddings.token_embedding.weight', [s.vocab, s.width], 0.02, false);
  const posEmb = g.weight(
    'text_model.embeddings.position_embedding.weight',
    [s.positions, s.width],
    0.01,
    false,
  );
  const seqLen = g.op('Gather', [g.op('Shape', [ids]), g.ints([1])], { axis: 0 });
  const zero = g.ints([0]);
  const pos = g.op('Slice', [posEmb, zero, seqLen, zero]);
  let x = g.op('Add', [g.op('Gather', [tokenEmb, ids], { axis: 0 }), pos]);

  // Causal mask (upper triangle) sliced to the real length, plus the padding mask.
  const causal = new Float32Array(s.positions * s.positions);
  for (let i = 0; i < s.positions; i++)
    for (let j = i + 1; j < s.positions; j++) causal[i * s.positions + j] = NEG;
  const causalAll = g.floats(causal, [s.positions, s.positions], 'causal_mask');
  const causalSq = g.op('Slice', [
    causalAll,
    g.ints([0, 0]),
    g.op('Concat', [seqLen, seqLen], { axis: 0 }),
    g.ints([0, 1]),
  ]);
  const maskF = g.op('Cast', [mask], { to: DataType.FLOAT });
  const padding = g.op('Mul', [g.op('Sub', [g.floats([1], []), maskF]), g.floats([NEG], [])]);
  const padding4 = g.op('Unsqueeze', [padding, g.ints([1, 2])]);
  const fullMask = g.op('Add', [causalSq, padding4]);

  for (let l = 0; l < s.layers; l++) x = encoderLayer(g, x, s, `text_model.encoder.layers.${l}`, fullMask);
  const last = layerNorm(g, x, s.width, 'text_model.final_layer_norm');

  // Pooled output: hidden state at the end-of-text token (the highest id), as HF does with argmax.
  const eot = g.op('ArgMax', [ids], { axis: -1, keepdims: 1 });
  const pooled = g.op('GatherND', [last, eot], { batch_dims: 1 });
  const embeds = linear(g, pooled, s.width, projection, 'text_projection', false);

  const io = floatIo(variant);
  if (variant === 'fp16') {
    g.op('Cast', [embeds], { to: io }, 'text_embeds');
    g.op('Cast', [last], { to: io }, 'last_hidden_state');
  } else {
    g.op('Identity', [embeds], {}, 'text_embeds');
    g.op('Identity', [last], {}, 'last_hidden_state');
  }
  g.output('text_embeds', io, ['batch_size', projection]);
  g.output('last_hidden_state', io, ['batch_size', seq, s.width]);
  return g.encode('clip_text_model', `CLIP text fixture (${variant}, random weights)`);
}

/** `fixedBatch` mimics exports traced with a fixed batch size. */
export function buildVisionModel(
  variant: Variant,
  rng: () => number,
  s: VisionSize,
  projection: number,
  fixedBatch?: number,
): Uint8Array {
  const g = new GraphBuilder(variant, rng);
  const io = floatIo(variant);
  const batchDim = fixedBatch ?? 'batch_size';
  const pixelsIn = g.input('pixel_values', io, [batchDim, 3, s.imageSize, s.imageSize]);
  const pixels = variant === 'fp16' ? g.op('Cast', [pixelsIn], { to: DataType.FLOAT }) : pixelsIn;
  const grid = s.imageSize / s.patch;
  const tokens = grid * grid + 1;

  const patchW = g.weight(
    'vision_model.embeddings.patch_embedding.weight',
    [s.width, 3, s.patch, s.patch],
    0.02,
  );
  const patches = g.op('Conv', [pixels, patchW], {
    kernel_shape: [s.patch, s.patch],
    strides: [s.patch, s.patch],
  });
  const seq = g.op('Transpose', [g.op('Reshape', [patches, g.ints([0, s.width, grid * grid])])], {
    perm: [0, 2, 1],
  });
  const cls = g.weight('vision_model.embeddings.class_embedding', [1, 1, s.width], 0.02, false);
  const batch = g.op('Gather', [g.op('Shape', [pixels]), g.ints([0])], { axis: 0 });
  const clsShape = g.op('Concat', [batch, g.ints([1, s.width])], { axis: 0 });
  let x = g.op('Concat', [g.op('Expand', [cls, clsShape]), seq], { axis: 1 });
  x = g.op('Add', [
    x,
    g.weight('vision_model.embeddings.position_embedding.weight', [tokens, s.width], 0.01, false),
  ]);
  x = layerNorm(g, x, s.width, 'vision_model.pre_layrnorm');

  for (let l = 0; l < s.layers; l++) x = encoderLayer(g, x, s, `vision_model.encoder.layers.${l}`);
  const pooled = layerNorm(
    g,
    g.op('Gather', [x, g.ints([0], [])], { axis: 1 }),
    s.width,
    'vision_model.post_layernorm',
  );
  const embeds = linear(g, pooled, s.width, projection, 'visual_projection', false);

  if (variant === 'fp16') {
    g.op('Cast', [embeds], { to: io }, 'image_embeds');
    g.op('Cast', [x], { to: io }, 'last_hidden_state');
  } else {
    g.op('Identity', [embeds], {}, 'image_embeds');
    g.op('Identity', [x], {}, 'last_hidden_state');
  }
  g.output('image_embeds', io, [batchDim, projection]);
  g.output('last_hidden_state', io, [batchDim, tokens, s.width]);
  return g.encode('clip_vision_model', `CLIP vision fixture (${variant}, random weights)`);
}
