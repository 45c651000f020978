/**
 * What this machine can do, measured in the same run as the encoders: the GFLOP/s of one
 * onnxruntime MatMul at the shapes that dominate CLIP (the MLP of a transformer block: tokens ×
 * width · width × 4·width), with the same session options as the model. The encoders' own GFLOP/s
 * (FLOPs counted from config.json, see {@link encoderFlops}) divided by it says how much of the
 * machine an encode uses, and so whether tuning onnxruntime further could pay.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import onnxProto from 'onnx-proto';
import * as ort from 'onnxruntime-node';

const { onnx } = onnxProto;

/** The parts of a CLIP tower's config that set its FLOPs. */
interface TowerConfig {
  hidden_size: number;
  intermediate_size: number;
  num_hidden_layers: number;
  patch_size?: number;
  image_size?: number;
  num_channels?: number;
}

/**
 * FLOPs (2 per multiply-add) of one encode: per layer the four attention projections (4·T·d²), the
 * MLP (2·T·d·f) and the attention itself (2·T²·d); plus the patch embedding for images. Layer norms,
 * softmax and activations are a few percent and left out, so the fraction of peak is a lower bound.
 */
export function encoderFlops(modelDir: string, kind: 'text' | 'vision', textTokens = 0): number {
  const config = JSON.parse(readFileSync(path.join(modelDir, 'config.json'), 'utf8')) as {
    text_config: TowerConfig;
    vision_config: TowerConfig;
  };
  const c = kind === 'text' ? config.text_config : config.vision_config;
  const d = c.hidden_size;
  const f = c.intermediate_size;
  let tokens = textTokens;
  let patchMacs = 0;
  if (kind === 'vision') {
    const p = c.patch_size ?? 32;
    const patches = ((c.image_size ?? 224) / p) ** 2;
    tokens = patches + 1;
    patchMacs = patches * (c.num_channels ?? 3) * p * p * d;
  }
  const perLayer = 4 * tokens * d * d + 2 * tokens * d * f + 2 * tokens * tokens * d;
  return 2 * (c.num_hidden_layers * perLayer + patchMacs);
}

/** A one-node model: x (M × K) · W (K × N), W a constant as a model's weights are. */
function matmulModel(k: number, n: number): Uint8Array {
  const F = onnx.TensorProto.DataType.FLOAT;
  const w = new Float32Array(k * n);
  for (let i = 0; i < w.length; i++) w[i] = ((i * 2654435761) % 1000) / 1000 - 0.5;
  const tensor = (name: string, dims: (number | string)[]) => ({
    name,
    type: {
      tensorType: {
        elemType: F,
        shape: { dim: dims.map((x) => (typeof x === 'number' ? { dimValue: x } : { dimParam: x })) },
      },
    },
  });
  return onnx.ModelProto.encode({
    irVersion: 8,
    producerName: 'imagesearch-bench',
    opsetImport: [{ domain: '', version: 17 }],
    graph: {
      name: 'peak',
      node: [{ opType: 'MatMul', input: ['x', 'w'], output: ['y'] }],
      initializer: [{ name: 'w', dataType: F, dims: [k, n], rawData: new Uint8Array(w.buffer) }],
      input: [tensor('x', ['m', k])],
      output: [tensor('y', ['m', n])],
    },
  }).finish();
}

export interface PeakResult {
  /** Best GFLOP/s seen for the shape. */
  gflops: number;
  m: number;
  k: number;
  n: number;
}

/**
 * Best-of-`repeats` GFLOP/s of x (m × k) · W (k × n). The best, not the median: it is the ceiling the
 * encoders are compared with, and a shared machine only ever pulls measurements down.
 */
export async function measurePeak(
  shape: { m: number; k: number; n: number },
  sessionOptions: ort.InferenceSession.SessionOptions,
  repeats = 20,
): Promise<PeakResult> {
  const session = await ort.InferenceSession.create(matmulModel(shape.k, shape.n), {
    ...sessionOptions,
    executionProviders: ['cpu'],
  });
  try {
    const x = new ort.Tensor('float32', new Float32Array(shape.m * shape.k).fill(0.01), [shape.m, shape.k]);
    await session.run({ x });
    let best = Number.POSITIVE_INFINITY;
    for (let i = 0; i < repeats; i++) {
      const t = performance.now();
      await session.run({ x });
      best = Math.min(best, performance.now() - t);
    }
    const gflops = (2 * shape.m * shape.k * shape.n) / (best / 1000) / 1e9;
    return { gflops: Math.round(gflops * 10) / 10, ...shape };
  } finally {
    await session.release();
  }
}
