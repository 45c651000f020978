import onnxProto from 'onnx-proto';
import * as ort from 'onnxruntime-node';

const { onnx } = onnxProto;

/**
 * Exact top-k by inner product over a row-major matrix of L2-normalised rows (so: cosine).
 *
 * Runs as one MatMul + TopK in onnxruntime: the scan is memory-bandwidth bound and MLAS streams the
 * matrix several times faster than a JS loop (~1.3 ms vs ~8 ms at 25K×512 on 2 cores). The matrix is
 * fed as an input, not baked in as an initializer, so it can exceed protobuf's 2 GB.
 *
 * Why `m · qᵀ` (MatMul, N = 1) and not `q · mᵀ` (Gemm with transB, M = 1): MLAS turns a one-column
 * product over a row-major matrix into its GEMV kernel, which reads each row once on every intra-op
 * thread; the transposed-B form packs panels of the matrix for every query first, about doubling the
 * memory traffic of a scan that is all memory traffic (docs/benchmarks.md: 1M × 512, same run).
 */
export class FlatSearcher {
  private constructor(
    private readonly session: ort.InferenceSession,
    private readonly matrix: ort.Tensor,
    readonly rows: number,
    readonly dim: number,
  ) {}

  static async create(matrix: Float32Array, rows: number, dim: number, threads = 0): Promise<FlatSearcher> {
    if (matrix.length !== rows * dim)
      throw new Error(`matrix has ${matrix.length} values, expected ${rows}×${dim}`);
    const options: ort.InferenceSession.SessionOptions = {
      executionProviders: ['cpu'],
      graphOptimizationLevel: 'all',
    };
    if (threads > 0) options.intraOpNumThreads = threads;
    const session = await ort.InferenceSession.create(searchGraph(), options);
    return new FlatSearcher(session, new ort.Tensor('float32', matrix, [rows, dim]), rows, dim);
  }

  /** Top-k rows for one query: indices (best first) and their scores. */
  async topK(query: Float32Array, k: number): Promise<{ indices: Int32Array; scores: Float32Array }> {
    const kk = Math.max(0, Math.min(k, this.rows));
    if (kk === 0) return { indices: new Int32Array(0), scores: new Float32Array(0) };
    const out = await this.session.run({
      q: new ort.Tensor('float32', query, [this.dim, 1]),
      m: this.matrix,
      k: new ort.Tensor('int64', BigInt64Array.of(BigInt(kk)), [1]),
    });
    const idx = out.indices!.data as BigInt64Array;
    const indices = new Int32Array(idx.length);
    for (let i = 0; i < idx.length; i++) indices[i] = Number(idx[i]);
    return { indices, scores: Float32Array.from(out.values!.data as Float32Array) };
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

/** The same search in plain JavaScript: the reference for tests and the benchmark's baseline. */
export function topKPlain(
  matrix: Float32Array,
  dim: number,
  query: Float32Array,
  k: number,
): { indices: Int32Array; scores: Float32Array } {
  const rows = matrix.length / dim;
  const kk = Math.min(k, rows);
  const bestIdx = new Int32Array(kk).fill(-1);
  const bestScore = new Float32Array(kk).fill(Number.NEGATIVE_INFINITY);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    const base = r * dim;
    for (let d = 0; d < dim; d++) s += matrix[base + d]! * query[d]!;
    if (s <= bestScore[kk - 1]!) continue;
    let i = kk - 1;
    while (i > 0 && bestScore[i - 1]! < s) {
      bestScore[i] = bestScore[i - 1]!;
      bestIdx[i] = bestIdx[i - 1]!;
      i--;
    }
    bestScore[i] = s;
    bestIdx[i] = r;
  }
  return { indices: bestIdx, scores: bestScore };
}

let cachedGraph: Uint8Array | undefined;

/** scores = m · qᵀ (MatMul, rows × 1), reshaped to one row; TopK(scores, k) along it. */
function searchGraph(): Uint8Array {
  if (cachedGraph) return cachedGraph;
  const F = onnx.TensorProto.DataType.FLOAT;
  const I64 = onnx.TensorProto.DataType.INT64;
  const tensor = (name: string, elemType: number, dims: (number | string)[]) => ({
    name,
    type: {
      tensorType: {
        elemType,
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  });
  const A = onnx.AttributeProto.AttributeType;
  cachedGraph = onnx.ModelProto.encode({
    irVersion: 8,
    producerName: 'imagesearch',
    opsetImport: [{ domain: '', version: 17 }],
    graph: {
      name: 'flat_search',
      node: [
        { opType: 'MatMul', input: ['m', 'q'], output: ['column'] },
        { opType: 'Reshape', input: ['column', 'row'], output: ['scores'] },
        {
          opType: 'TopK',
          input: ['scores', 'k'],
          output: ['values', 'indices'],
          attribute: [
            { name: 'axis', type: A.INT, i: -1 },
            { name: 'largest', type: A.INT, i: 1 },
            { name: 'sorted', type: A.INT, i: 1 },
          ],
        },
      ],
      initializer: [{ name: 'row', dataType: I64, dims: [2], int64Data: [1, -1] }],
      input: [tensor('q', F, ['dim', 1]), tensor('m', F, ['rows', 'dim']), tensor('k', I64, [1])],
      output: [tensor('values', F, [1, 'k']), tensor('indices', I64, [1, 'k'])],
    },
  }).finish();
  return cachedGraph;
}
