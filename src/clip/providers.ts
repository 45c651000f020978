import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { ImageSearchError } from '../core/errors.ts';
import type { Logger } from '../logger.ts';

export type ProviderChoice = 'auto' | 'cuda' | 'webgpu' | 'cpu';
export type ProviderName = 'cuda' | 'webgpu' | 'cpu';

/** Why a provider can't be used on this machine, or undefined if it may be tried. */
export interface ProviderProbe {
  name: ProviderName;
  available: boolean;
  reason?: string;
}

/** Facts the probe reads; injectable so tests can describe other machines. */
export interface ProviderEnvironment {
  /** Directory of onnxruntime-node's native binaries. */
  ortBinDir: string;
  /** Shared-library search path for the Vulkan loader. */
  libDirs: string[];
  fileExists: (file: string) => boolean;
}

export function defaultProviderEnvironment(): ProviderEnvironment {
  const require = createRequire(import.meta.url);
  const pkg = path.dirname(require.resolve('onnxruntime-node/package.json'));
  const ortBinDir = path.join(pkg, 'bin', 'napi-v6', process.platform, process.arch);
  const libDirs = [
    ...(process.env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean),
    '/usr/lib/x86_64-linux-gnu',
    '/usr/lib/aarch64-linux-gnu',
    '/usr/lib64',
    '/usr/lib',
    '/lib/x86_64-linux-gnu',
    '/usr/local/lib',
  ];
  return { ortBinDir, libDirs, fileExists: existsSync };
}

/** Looks, without creating a session, for what each provider needs. */
export function probeProviders(env: ProviderEnvironment = defaultProviderEnvironment()): ProviderProbe[] {
  const cudaLib = path.join(env.ortBinDir, 'libonnxruntime_providers_cuda.so');
  const cuda: ProviderProbe = env.fileExists(cudaLib)
    ? { name: 'cuda', available: true }
    : {
        name: 'cuda',
        available: false,
        reason:
          'CUDA provider libraries are not installed (reinstall with ONNXRUNTIME_NODE_INSTALL=cuda12; needs CUDA 12 + cuDNN 9)',
      };
  const vulkan = env.libDirs.some((d) => env.fileExists(path.join(d, 'libvulkan.so.1')));
  const webgpu: ProviderProbe = vulkan
    ? { name: 'webgpu', available: true }
    : {
        name: 'webgpu',
        available: false,
        reason: 'Vulkan loader libvulkan.so.1 not found (apt install libvulkan1 + GPU driver)',
      };
  return [cuda, webgpu, { name: 'cpu', available: true }];
}

export interface SessionOptions {
  provider: ProviderChoice;
  /** Intra-op threads; 0 lets onnxruntime decide. */
  threads: number;
  logger: Logger;
  env?: ProviderEnvironment;
}

export interface CreatedSession {
  session: ort.InferenceSession;
  provider: ProviderName;
  /** Providers tried before this one, with why they were skipped or failed. */
  skipped: { name: ProviderName; reason: string }[];
}

const loggedSkips = new Set<string>();

/**
 * Creates a session on the first provider that works, trying each on its own: onnxruntime's list form
 * `['webgpu', 'cpu']` fails outright when no GPU adapter exists instead of falling back.
 * `auto` tries cuda → webgpu → cpu; a forced provider that can't run is an error naming what's missing.
 */
export async function createSession(file: string, opts: SessionOptions): Promise<CreatedSession> {
  const probes = probeProviders(opts.env);
  const order: ProviderName[] = opts.provider === 'auto' ? ['cuda', 'webgpu', 'cpu'] : [opts.provider];
  const skipped: { name: ProviderName; reason: string }[] = [];
  let modelBytes: Buffer;
  try {
    modelBytes = readFileSync(file);
  } catch (e) {
    throw new ImageSearchError('model_missing', `Model file ${file} could not be read.`, { cause: e });
  }
  for (const name of order) {
    const probe = probes.find((p) => p.name === name)!;
    if (!probe.available) {
      skipped.push({ name, reason: probe.reason ?? 'unavailable' });
      continue;
    }
    try {
      const sessionOptions: ort.InferenceSession.SessionOptions = {
        executionProviders: [name],
        graphOptimizationLevel: 'all',
        logSeverityLevel: 3,
      };
      if (opts.threads > 0) sessionOptions.intraOpNumThreads = opts.threads;
      const session = await ort.InferenceSession.create(modelBytes, sessionOptions);
      for (const s of skipped) {
        if (!loggedSkips.has(s.name)) {
          loggedSkips.add(s.name);
          opts.logger.info({ provider: s.name, reason: s.reason }, 'execution provider skipped');
        }
      }
      return { session, provider: name, skipped };
    } catch (e) {
      const reason = e instanceof Error ? e.message.split('\n')[0]!.slice(0, 300) : String(e);
      if (isInvalidModel(reason)) {
        throw new ImageSearchError(
          'model_invalid',
          `Model file ${path.basename(file)} is not a valid ONNX model (${reason}).`,
          {
            cause: e,
          },
        );
      }
      skipped.push({ name, reason });
    }
  }
  const why = skipped.map((s) => `${s.name}: ${s.reason}`).join('; ');
  throw new ImageSearchError(
    'config_invalid',
    `IMAGESEARCH_EP=${opts.provider} can't run on this machine — ${why}. Set IMAGESEARCH_EP=auto or cpu.`,
  );
}

function isInvalidModel(message: string): boolean {
  return /protobuf|parsing|Load model|INVALID_PROTOBUF|INVALID_GRAPH|model_path|ModelProto/i.test(message);
}

/** Recommended index-build batch size per provider: GPUs like big batches, CPUs gain little past 16. */
export function buildBatchSize(provider: ProviderName): number {
  return provider === 'cpu' ? 16 : 64;
}

/** onnxruntime's own report of bundled backends (for `doctor`). */
export function supportedBackends(): { name: string; bundled: boolean }[] {
  try {
    return ort.listSupportedBackends?.() ?? [];
  } catch {
    return [];
  }
}

/** The onnxruntime-node version in use. */
export function ortVersion(): string {
  const require = createRequire(import.meta.url);
  const pkg = JSON.parse(readFileSync(require.resolve('onnxruntime-node/package.json'), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}
