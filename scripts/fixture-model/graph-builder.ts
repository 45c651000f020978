/**
 * A small ONNX graph builder over the protobuf schema (onnx-proto). Enough to express the CLIP text
 * and vision transformers with the same inputs/outputs as the Hugging Face export.
 *
 * Weight storage follows the variant: fp32 initializers; fp16 initializers cast up to fp32 at load
 * (compute stays fp32, I/O is fp16 as in HF `*_fp16.onnx`); int8 per-tensor quantised matrices
 * with DequantizeLinear (I/O fp32 as in HF `*_quantized.onnx`).
 */
import onnxProto, { type onnx as Onnx } from 'onnx-proto';
import { floatToHalf } from '../../src/util/half-float.ts';

// onnx-proto is CommonJS: the namespace comes through the default export at run time.
const { onnx } = onnxProto;

export type Variant = 'fp32' | 'fp16' | 'quantized';
type AttrValue = number | number[] | string | { tensor: Onnx.ITensorProto };

const DT = onnx.TensorProto.DataType;

export class GraphBuilder {
  private readonly nodes: Onnx.INodeProto[] = [];
  private readonly initializers: Onnx.ITensorProto[] = [];
  private readonly inputs: Onnx.IValueInfoProto[] = [];
  private readonly outputs: Onnx.IValueInfoProto[] = [];
  private counter = 0;

  constructor(
    readonly variant: Variant,
    private readonly rng: () => number,
  ) {}

  private fresh(prefix: string): string {
    this.counter += 1;
    return `${prefix}_${this.counter}`;
  }

  input(name: string, elemType: Onnx.TensorProto.DataType, dims: (number | string)[]): string {
    this.inputs.push(valueInfo(name, elemType, dims));
    return name;
  }

  output(name: string, elemType: Onnx.TensorProto.DataType, dims: (number | string)[]): void {
    this.outputs.push(valueInfo(name, elemType, dims));
  }

  /** Adds a node and returns its (first) output name. */
  op(opType: string, inputs: string[], attrs: Record<string, AttrValue> = {}, outName?: string): string {
    const out = outName ?? this.fresh(opType.toLowerCase());
    this.nodes.push({
      opType,
      input: inputs,
      output: [out],
      name: this.fresh(`n_${opType}`),
      attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
    });
    return out;
  }

  /** Multi-output node. */
  opN(opType: string, inputs: string[], outputs: number, attrs: Record<string, AttrValue> = {}): string[] {
    const outs = Array.from({ length: outputs }, () => this.fresh(opType.toLowerCase()));
    this.nodes.push({
      opType,
      input: inputs,
      output: outs,
      name: this.fresh(`n_${opType}`),
      attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
    });
    return outs;
  }

  /** An int64 constant initializer. */
  ints(values: number[], dims: number[] = [values.length], name?: string): string {
    const n = name ?? this.fresh('c_i64');
    const data = new BigInt64Array(values.map((v) => BigInt(v)));
    this.initializers.push({ name: n, dims, dataType: DT.INT64, rawData: bytes(data) });
    return n;
  }

  /** A float32 constant initializer (never quantised). */
  floats(values: Float32Array | number[], dims: number[], name?: string): string {
    const n = name ?? this.fresh('c_f32');
    const data = values instanceof Float32Array ? values : new Float32Array(values);
    this.initializers.push({ name: n, dims, dataType: DT.FLOAT, rawData: bytes(data) });
    return n;
  }

  /** A seeded random weight, uniform with the given std, stored per the variant. */
  weight(name: string, dims: number[], std = 0.02, quantise = true): string {
    const size = dims.reduce((a, b) => a * b, 1);
    const data = new Float32Array(size);
    const a = std * Math.sqrt(3);
    for (let i = 0; i < size; i++) data[i] = (this.rng() * 2 - 1) * a;
    return this.store(name, dims, data, quantise);
  }

  /** A constant-valued parameter (LayerNorm gamma/beta), stored per the variant. */
  filled(name: string, dims: number[], value: number): string {
    const size = dims.reduce((a, b) => a * b, 1);
    return this.store(name, dims, new Float32Array(size).fill(value), false);
  }

  private store(name: string, dims: number[], data: Float32Array, quantise: boolean): string {
    if (this.variant === 'fp16') {
      const half = new Uint16Array(data.length);
      for (let i = 0; i < data.length; i++) half[i] = floatToHalf(data[i]!);
      this.initializers.push({ name: `${name}_fp16`, dims, dataType: DT.FLOAT16, rawData: bytes(half) });
      return this.op('Cast', [`${name}_fp16`], { to: DT.FLOAT }, name);
    }
    if (this.variant === 'quantized' && quantise && dims.length >= 2) {
      let max = 0;
      for (const v of data) max = Math.max(max, Math.abs(v));
      const scale = max / 127 || 1;
      const q = new Int8Array(data.length);
      for (let i = 0; i < data.length; i++)
        q[i] = Math.max(-127, Math.min(127, Math.round(data[i]! / scale)));
      this.initializers.push({ name: `${name}_q`, dims, dataType: DT.INT8, rawData: bytes(q) });
      const s = this.floats([scale], [], `${name}_scale`);
      const zp = `${name}_zp`;
      this.initializers.push({ name: zp, dims: [], dataType: DT.INT8, rawData: new Uint8Array([0]) });
      return this.op('DequantizeLinear', [`${name}_q`, s, zp], {}, name);
    }
    this.initializers.push({ name, dims, dataType: DT.FLOAT, rawData: bytes(data) });
    return name;
  }

  /** Serialises the model (opset 17, IR 8). */
  encode(graphName: string, docString: string): Uint8Array {
    const model: Onnx.IModelProto = {
      irVersion: 8,
      producerName: 'imagesearch-fixture-model',
      producerVersion: '1',
      docString,
      opsetImport: [{ domain: '', version: 17 }],
      graph: {
        name: graphName,
        node: this.nodes,
        initializer: this.initializers,
        input: this.inputs,
        output: this.outputs,
      },
    };
    return onnx.ModelProto.encode(model).finish();
  }
}

function bytes(view: ArrayBufferView): Uint8Array {
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}

function valueInfo(
  name: string,
  elemType: Onnx.TensorProto.DataType,
  dims: (number | string)[],
): Onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType,
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

function attribute(name: string, v: AttrValue): Onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof v === 'string') return { name, type: T.STRING, s: new TextEncoder().encode(v) };
  if (Array.isArray(v)) return { name, type: T.INTS, ints: v };
  if (typeof v === 'object') return { name, type: T.TENSOR, t: v.tensor };
  if (Number.isInteger(v)) return { name, type: T.INT, i: v };
  return { name, type: T.FLOAT, f: v };
}

/** Deterministic PRNG (mulberry32): the same seed gives the same weights on every machine. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const DataType = DT;
