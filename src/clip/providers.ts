import { accessSync, constants, existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { ImageSearchError } from '../core/errors.ts';
import type { Logger } from '../util/logger.ts';

/** `IMAGESEARCH_EP`: `auto` tries cuda → webgpu → cpu; any other value forces that one provider. */
export type ProviderChoice = 'auto' | 'cuda' | 'webgpu' | 'cpu';
/** An execution provider a session can actually run on. */
export type ProviderName = 'cuda' | 'webgpu' | 'cpu';

/** What a look at the machine (no session created) says about one provider. */
export interface ProviderProbe {
  name: ProviderName;
  /** False when something the provider needs is missing; `reason` then says what. */
  available: boolean;
  reason?: string;
  /** What was found (driver manifests, libraries), for logs and `doctor`. */
  found?: string[];
  /**
   * Environment variables the provider needs set before its first session, e.g. `VK_DRIVER_FILES`
   * when the only NVIDIA Vulkan manifest is in a container-toolkit folder the loader doesn't search.
   */
  env?: Record<string, string>;
}

/** Facts the probe reads; injectable so tests can describe other machines. */
export interface ProviderEnvironment {
  /** Directory of onnxruntime-node's native binaries. */
  ortBinDir: string;
  /** Folders searched for shared libraries (the Vulkan loader, the CUDA runtime, cuDNN). */
  libDirs: string[];
  fileExists: (file: string) => boolean;
  /** Environment variables (VK_DRIVER_FILES, VK_ICD_FILENAMES, XDG_*); defaults to none. */
  vars?: Readonly<Record<string, string | undefined>>;
  /** Names of the entries in a folder; [] when it is missing. Defaults to none. */
  listDir?: (dir: string) => string[];
  /** A text file's contents, or undefined when unreadable. Defaults to unreadable. */
  readText?: (file: string) => string | undefined;
  /** The dynamic linker's cache (`/etc/ld.so.cache`) as text, to find libraries outside `libDirs`. */
  ldCache?: () => string;
}

/** Where an NVIDIA container runtime (and the lent GPU machines) mount the driver's Vulkan manifest. */
export const NVIDIA_CONTAINER_ICD = '/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json';

/** The folders the Vulkan loader searches for driver manifests when no variable overrides it. */
export function vulkanIcdDirs(vars: Readonly<Record<string, string | undefined>>): string[] {
  const split = (v: string | undefined, fallback: string) => (v || fallback).split(':').filter(Boolean);
  const config = split(vars.XDG_CONFIG_DIRS, '/etc/xdg').map((d) => path.join(d, 'vulkan', 'icd.d'));
  const data = split(vars.XDG_DATA_DIRS, '/usr/local/share:/usr/share').map((d) =>
    path.join(d, 'vulkan', 'icd.d'),
  );
  return [...new Set([...config, '/etc/vulkan/icd.d', ...data, '/usr/share/vulkan/icd.d'])];
}

export function defaultProviderEnvironment(): ProviderEnvironment {
  const require = createRequire(import.meta.url);
  const pkg = path.dirname(require.resolve('onnxruntime-node/package.json'));
  const ortBinDir = path.join(pkg, 'bin', 'napi-v6', process.platform, process.arch);
  const vars = process.env;
  const libDirs = [
    ...(vars.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean),
    ...[vars.CUDA_PATH, vars.CUDA_HOME].filter((d): d is string => !!d).map((d) => path.join(d, 'lib64')),
    '/usr/local/cuda/lib64',
    '/usr/local/nvidia/lib64',
    '/usr/lib/x86_64-linux-gnu',
    '/usr/lib/aarch64-linux-gnu',
    '/usr/lib64',
    '/usr/lib',
    '/lib/x86_64-linux-gnu',
    '/usr/local/lib',
  ];
  return {
    ortBinDir,
    libDirs,
    fileExists: existsSync,
    vars,
    listDir: (dir) => {
      try {
        return readdirSync(dir);
      } catch {
        return [];
      }
    },
    readText: (file) => {
      try {
        return statSync(file).size < 1_000_000 ? readFileSync(file, 'utf8') : undefined;
      } catch {
        return undefined;
      }
    },
    ldCache: () => {
      try {
        // Binary, but the library names in it are plain ASCII: a substring test is enough.
        return readFileSync('/etc/ld.so.cache', 'latin1');
      } catch {
        return '';
      }
    },
  };
}

/** The CUDA 12 runtime pieces onnxruntime's CUDA provider links against (cuDNN 9 for 1.2x/1.30). */
const CUDA_RUNTIME_LIBS = [
  { lib: 'libcuda.so.1', what: 'NVIDIA driver' },
  { lib: 'libcudart.so.12', what: 'CUDA 12 runtime' },
  { lib: 'libcublas.so.12', what: 'cuBLAS 12' },
  { lib: 'libcudnn.so.9', what: 'cuDNN 9' },
];

/** Software Vulkan drivers: WebGPU on them runs on the CPU, slower than the CPU provider itself. */
const SOFTWARE_ICD = /lvp|lavapipe|llvmpipe|swiftshader/i;

/** Looks, without creating a session, for what each provider needs. */
export function probeProviders(env: ProviderEnvironment = defaultProviderEnvironment()): ProviderProbe[] {
  return [probeCuda(env), probeWebgpu(env), { name: 'cpu', available: true }];
}

function findLib(env: ProviderEnvironment, lib: string, cache: string): string | undefined {
  for (const d of env.libDirs) {
    const file = path.join(d, lib);
    if (env.fileExists(file)) return file;
  }
  // ld.so.cache stores each name NUL-terminated; the NUL keeps libfoo.so.1 from matching libfoo.so.12.
  return cache.includes(`${lib}\0`) ? `${lib} (ld.so.cache)` : undefined;
}

function probeCuda(env: ProviderEnvironment): ProviderProbe {
  const providerLibs = ['libonnxruntime_providers_cuda.so', 'libonnxruntime_providers_shared.so'];
  const missingProvider = providerLibs.filter((l) => !env.fileExists(path.join(env.ortBinDir, l)));
  if (missingProvider.length > 0) {
    return {
      name: 'cuda',
      available: false,
      reason: `CUDA provider libraries are not installed (${missingProvider.join(', ')} missing in ${env.ortBinDir}); reinstall with ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild onnxruntime-node, and install the CUDA 12 runtime + cuDNN 9`,
    };
  }
  const cache = env.ldCache?.() ?? '';
  const found: string[] = [];
  const missing: string[] = [];
  for (const { lib, what } of CUDA_RUNTIME_LIBS) {
    const at = findLib(env, lib, cache);
    if (at) found.push(at);
    else missing.push(`${lib} (${what})`);
  }
  if (missing.length > 0) {
    return {
      name: 'cuda',
      available: false,
      reason: `CUDA provider is installed but ${missing.join(', ')} not found on LD_LIBRARY_PATH or in the linker cache`,
      found,
    };
  }
  return { name: 'cuda', available: true, found };
}

/** Manifest files named by a VK_DRIVER_FILES-style list (files or folders of *.json). */
function manifestsIn(env: ProviderEnvironment, entries: string[]): string[] {
  const out: string[] = [];
  for (const e of entries) {
    if (e.endsWith('.json')) {
      if (env.fileExists(e)) out.push(e);
      continue;
    }
    for (const name of env.listDir?.(e) ?? []) {
      if (name.endsWith('.json')) out.push(path.join(e, name));
    }
  }
  return out;
}

function icdLibrary(env: ProviderEnvironment, manifest: string): string | undefined {
  const text = env.readText?.(manifest);
  if (!text) return undefined;
  try {
    const parsed = JSON.parse(text) as { ICD?: { library_path?: unknown } };
    return typeof parsed.ICD?.library_path === 'string' ? parsed.ICD.library_path : undefined;
  } catch {
    return undefined;
  }
}

function probeWebgpu(env: ProviderEnvironment): ProviderProbe {
  const vars = env.vars ?? {};
  const cache = env.ldCache?.() ?? '';
  const loader = findLib(env, 'libvulkan.so.1', cache);
  if (!loader) {
    return {
      name: 'webgpu',
      available: false,
      reason:
        'Vulkan loader libvulkan.so.1 not found (install libvulkan1, plus the GPU driver with its Vulkan ICD)',
    };
  }
  // The loader's own precedence: VK_DRIVER_FILES (or the older VK_ICD_FILENAMES) replaces the search.
  const override = vars.VK_DRIVER_FILES || vars.VK_ICD_FILENAMES;
  const overrideName = vars.VK_DRIVER_FILES ? 'VK_DRIVER_FILES' : 'VK_ICD_FILENAMES';
  let manifests: string[];
  const extraEnv: Record<string, string> = {};
  if (override) {
    manifests = manifestsIn(env, override.split(':').filter(Boolean));
    if (manifests.length === 0) {
      return {
        name: 'webgpu',
        available: false,
        reason: `${overrideName}=${override} names no existing Vulkan driver manifest`,
        found: [loader],
      };
    }
  } else {
    const dirs = vulkanIcdDirs(vars);
    const added = (vars.VK_ADD_DRIVER_FILES ?? '').split(':').filter(Boolean);
    manifests = manifestsIn(env, [...added, ...dirs]);
    if (manifests.length === 0 && env.fileExists(NVIDIA_CONTAINER_ICD)) {
      // The container toolkit mounts the driver here, outside the loader's search path.
      manifests = [NVIDIA_CONTAINER_ICD];
      extraEnv.VK_DRIVER_FILES = NVIDIA_CONTAINER_ICD;
    }
    if (manifests.length === 0) {
      return {
        name: 'webgpu',
        available: false,
        reason: `no Vulkan driver (ICD) manifest found in ${[...dirs, path.dirname(NVIDIA_CONTAINER_ICD)].join(', ')} — install the GPU driver's Vulkan ICD (NVIDIA: nvidia_icd.json) or set VK_DRIVER_FILES`,
        found: [loader],
      };
    }
  }
  const described = manifests.map((m) => ({ m, lib: icdLibrary(env, m) }));
  const hardware = described.filter((d) => !(d.lib && SOFTWARE_ICD.test(d.lib)));
  const found = [loader, ...described.map((d) => (d.lib ? `${d.m} (${d.lib})` : d.m))];
  if (hardware.length === 0) {
    return {
      name: 'webgpu',
      available: false,
      reason: `only software Vulkan drivers found (${described.map((d) => d.lib).join(', ')}): WebGPU would run on the CPU, slower than the cpu provider`,
      found,
    };
  }
  const probe: ProviderProbe = { name: 'webgpu', available: true, found };
  if (Object.keys(extraEnv).length > 0) probe.env = extraEnv;
  return probe;
}

/**
 * onnxruntime options for every encoder session, in one place. They are onnxruntime's own defaults
 * written out: the sweep (`npm run bench -- --ort-options`; docs/benchmarks.md) found nothing that
 * beats them reliably on a shared 2-core machine: `basic`/`extended` graph optimisation never helped;
 * more threads than cores (intra-op 4, or parallel execution with a second pool) was 4× slower; one
 * intra-op thread sped up short text encodes but not image batches (IMAGESEARCH_THREADS=1 sets it).
 * The quantized model file is a variant (IMAGESEARCH_MODEL_VARIANT), not an option.
 */
export const ENCODER_SESSION_OPTIONS = {
  graphOptimizationLevel: 'all',
  executionMode: 'sequential',
  interOpNumThreads: 1,
  enableCpuMemArena: true,
  enableMemPattern: true,
} as const satisfies ort.InferenceSession.SessionOptions;

/** How one session is to be created. */
export interface SessionOptions {
  provider: ProviderChoice;
  /** Intra-op threads; 0 lets onnxruntime decide. */
  threads: number;
  logger: Logger;
  env?: ProviderEnvironment;
  /** Replaces {@link ENCODER_SESSION_OPTIONS} entries (the benchmark's sweep; not a user setting). */
  tuning?: Partial<ort.InferenceSession.SessionOptions>;
}

/** A session and the provider it runs on. */
export interface CreatedSession {
  session: ort.InferenceSession;
  provider: ProviderName;
  /** Providers tried before this one, with why they were skipped or failed. */
  skipped: { name: ProviderName; reason: string }[];
}

// Keyed by logger so each logger hears a reason once (text and vision encoders share one), while a
// fresh logger — a test's, or a restarted service's — hears it again.
const loggedSkips = new WeakMap<Logger, Set<string>>();

function logSkipOnce(logger: Logger, s: { name: ProviderName; reason: string }): void {
  let seen = loggedSkips.get(logger);
  if (!seen) {
    seen = new Set();
    loggedSkips.set(logger, seen);
  }
  const key = `${s.name}\0${s.reason}`;
  if (seen.has(key)) return;
  seen.add(key);
  logger.info({ provider: s.name, reason: s.reason }, 'execution provider skipped');
}

/**
 * Creates a session on the first provider that works, trying each on its own: onnxruntime's list form
 * `['webgpu', 'cpu']` fails outright when no GPU adapter exists instead of falling back.
 * `auto` tries cuda → webgpu → cpu; a forced provider that can't run is an error naming what's missing.
 */
export async function createSession(file: string, opts: SessionOptions): Promise<CreatedSession> {
  const probes = probeProviders(opts.env);
  const order: ProviderName[] = opts.provider === 'auto' ? ['cuda', 'webgpu', 'cpu'] : [opts.provider];
  const skipped: { name: ProviderName; reason: string }[] = [];
  // onnxruntime reads the file itself: handing it a JS Buffer would hold a second copy of the
  // weights (~350 MB for ViT-B/32 fp32) while the session is built, raising peak memory.
  try {
    accessSync(file, constants.R_OK);
  } catch (e) {
    throw new ImageSearchError('model_missing', `Model file ${file} could not be read.`, { cause: e });
  }
  for (const name of order) {
    const probe = probes.find((p) => p.name === name);
    if (!probe?.available) {
      skipped.push({ name, reason: probe?.reason ?? 'unavailable' });
      continue;
    }
    applyProviderEnv(probe, opts.logger);
    try {
      const sessionOptions: ort.InferenceSession.SessionOptions = {
        // GPU sessions take the same options, their outputs on the host (onnxruntime's default): an
        // embedding is read back as soon as it is made, so I/O binding to device buffers would only
        // move that copy; the batch keeps a GPU busy (buildBatchSize). Unmeasured: docs/benchmarks.md.
        ...ENCODER_SESSION_OPTIONS,
        ...opts.tuning,
        executionProviders: [name],
        logSeverityLevel: 3,
      };
      if (opts.threads > 0) sessionOptions.intraOpNumThreads = opts.threads;
      const session = await ort.InferenceSession.create(file, sessionOptions);
      for (const s of skipped) logSkipOnce(opts.logger, s);
      return { session, provider: name, skipped };
    } catch (e) {
      const raw = e instanceof Error ? e.message : String(e);
      if (isInvalidModel(raw)) {
        throw new ImageSearchError(
          'model_invalid',
          `Model file ${path.basename(file)} is not a valid ONNX model (${summariseOrtError(raw)}).`,
          { cause: e },
        );
      }
      skipped.push({ name, reason: `session creation failed: ${summariseOrtError(raw)}` });
    }
  }
  for (const s of skipped) logSkipOnce(opts.logger, s);
  const why = skipped.map((s) => `${s.name}: ${s.reason}`).join('; ');
  const hint =
    opts.provider === 'auto'
      ? 'Check the model file.'
      : 'Set IMAGESEARCH_EP=auto or cpu, or see docs/gpu.md.';
  throw new ImageSearchError(
    'config_invalid',
    `IMAGESEARCH_EP=${opts.provider} can't run on this machine — ${why}. ${hint}`,
  );
}

/** Sets variables a provider needs (never overriding the user's own) and says so in the log. */
function applyProviderEnv(probe: ProviderProbe, logger: Logger): void {
  for (const [k, v] of Object.entries(probe.env ?? {})) {
    if (process.env[k] !== undefined) continue;
    process.env[k] = v;
    logger.info({ provider: probe.name, [k]: v }, 'execution provider environment set');
  }
}

/**
 * onnxruntime's messages start with a build path and an assertion
 * (`/onnxruntime_src/…/webgpu_context.cc:136 … was false. Failed to get a WebGPU adapter: …`):
 * keep the human part, on one line.
 */
export function summariseOrtError(message: string): string {
  const first = message.split('\n').find((l) => l.trim()) ?? message;
  const afterAssert = first.includes(' was false. ')
    ? first.slice(first.lastIndexOf(' was false. ') + 12)
    : first;
  const noPath = afterAssert.replace(/^\/\S+:\d+\s+/, '');
  return noPath.trim().slice(0, 300);
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
