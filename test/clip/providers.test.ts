import path from 'node:path';
import { Writable } from 'node:stream';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  buildBatchSize,
  createSession,
  defaultProviderEnvironment,
  NVIDIA_CONTAINER_ICD,
  type ProviderEnvironment,
  probeProviders,
  summariseOrtError,
} from '../../src/clip/providers.ts';
import { ImageSearchError } from '../../src/core/errors.ts';
import { createLogger, type Logger } from '../../src/util/logger.ts';
import { getTinyModelDir } from '../support/models.ts';

interface LogLine {
  level: number;
  msg: string;
  provider?: string;
  reason?: string;
  [k: string]: unknown;
}

/** A real pino logger writing JSON lines into memory. */
function memoryLogger(): { logger: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString('utf8').split('\n')) if (l.trim()) lines.push(JSON.parse(l) as LogLine);
      done();
    },
  });
  return { logger: createLogger({ level: 'debug', destination }), lines };
}

const real = defaultProviderEnvironment();

/** A machine described by a set of files (and optional manifest contents, ld cache, variables). */
function fakeEnv(
  files: Record<string, string>,
  opts: { vars?: Record<string, string>; ldCache?: string; ortBinDir?: string } = {},
): ProviderEnvironment {
  const all = Object.keys(files);
  return {
    ortBinDir: opts.ortBinDir ?? real.ortBinDir,
    libDirs: ['/fake/lib'],
    fileExists: (f) => f in files,
    vars: opts.vars ?? {},
    listDir: (dir) => all.filter((f) => path.dirname(f) === dir).map((f) => path.basename(f)),
    readText: (f) => files[f],
    ldCache: () => opts.ldCache ?? '',
  };
}

const NVIDIA_ICD_JSON = JSON.stringify({
  file_format_version: '1.0.1',
  ICD: { library_path: 'libGLX_nvidia.so.0', api_version: '1.4.312' },
});
const LAVAPIPE_ICD_JSON = JSON.stringify({
  file_format_version: '1.0.0',
  ICD: { library_path: '/usr/lib/x86_64-linux-gnu/libvulkan_lvp.so', api_version: '1.3.255' },
});

/** This machine as the probe sees it: the session tests below assume no usable GPU. */
const realProbes = probeProviders();
const cpuOnlyMachine = realProbes.every((p) => p.name === 'cpu' || !p.available);

describe('probeProviders', () => {
  it('reports a bare machine: no CUDA provider libraries, no Vulkan loader, cpu always', () => {
    const probes = probeProviders(fakeEnv({}));
    expect(probes.map((p) => [p.name, p.available])).toEqual([
      ['cuda', false],
      ['webgpu', false],
      ['cpu', true],
    ]);
    expect(probes[0]!.reason).toMatch(/ONNXRUNTIME_NODE_INSTALL=cuda12/);
    expect(probes[0]!.reason).toMatch(/libonnxruntime_providers_cuda\.so/);
    expect(probes[1]!.reason).toMatch(/libvulkan\.so\.1 not found/);
  });

  it('needs a Vulkan driver manifest besides the loader', () => {
    const [, webgpu] = probeProviders(fakeEnv({ '/fake/lib/libvulkan.so.1': '' }));
    expect(webgpu!.available).toBe(false);
    expect(webgpu!.reason).toMatch(
      /no Vulkan driver \(ICD\) manifest found in .*\/usr\/share\/vulkan\/icd\.d/,
    );
    expect(webgpu!.reason).toMatch(/VK_DRIVER_FILES/);
  });

  it('finds the NVIDIA ICD in the standard folder', () => {
    const [, webgpu] = probeProviders(
      fakeEnv({
        '/fake/lib/libvulkan.so.1': '',
        '/usr/share/vulkan/icd.d/nvidia_icd.json': NVIDIA_ICD_JSON,
      }),
    );
    expect(webgpu).toMatchObject({ name: 'webgpu', available: true });
    expect(webgpu!.found).toContain('/usr/share/vulkan/icd.d/nvidia_icd.json (libGLX_nvidia.so.0)');
    expect(webgpu!.env).toBeUndefined();
  });

  it("points the loader at the container toolkit's NVIDIA manifest, which it doesn't search", () => {
    const [, webgpu] = probeProviders(
      fakeEnv({ '/fake/lib/libvulkan.so.1': '', [NVIDIA_CONTAINER_ICD]: NVIDIA_ICD_JSON }),
    );
    expect(webgpu).toMatchObject({ available: true, env: { VK_DRIVER_FILES: NVIDIA_CONTAINER_ICD } });
  });

  it('honours VK_DRIVER_FILES and says when it names nothing', () => {
    const icd = '/opt/drivers/nvidia_icd.json';
    const ok = probeProviders(
      fakeEnv({ '/fake/lib/libvulkan.so.1': '', [icd]: NVIDIA_ICD_JSON }, { vars: { VK_DRIVER_FILES: icd } }),
    )[1]!;
    expect(ok.available).toBe(true);
    const bad = probeProviders(
      fakeEnv({ '/fake/lib/libvulkan.so.1': '' }, { vars: { VK_DRIVER_FILES: '/nope/icd.json' } }),
    )[1]!;
    expect(bad.available).toBe(false);
    expect(bad.reason).toBe('VK_DRIVER_FILES=/nope/icd.json names no existing Vulkan driver manifest');
  });

  it('does not count a software Vulkan driver (lavapipe) as a GPU', () => {
    const [, webgpu] = probeProviders(
      fakeEnv({
        '/fake/lib/libvulkan.so.1': '',
        '/usr/share/vulkan/icd.d/lvp_icd.x86_64.json': LAVAPIPE_ICD_JSON,
      }),
    );
    expect(webgpu!.available).toBe(false);
    expect(webgpu!.reason).toMatch(/only software Vulkan drivers found .*libvulkan_lvp\.so/);
  });

  it('finds the Vulkan loader through the linker cache', () => {
    const [, webgpu] = probeProviders(
      fakeEnv(
        { '/usr/share/vulkan/icd.d/nvidia_icd.json': NVIDIA_ICD_JSON },
        { ldCache: 'xx\0libvulkan.so.1\0/usr/lib/x86_64-linux-gnu/libvulkan.so.1\0' },
      ),
    );
    expect(webgpu!.available).toBe(true);
    expect(webgpu!.found?.[0]).toBe('libvulkan.so.1 (ld.so.cache)');
  });

  it('with the CUDA provider installed, names the missing CUDA 12 runtime pieces', () => {
    const bin = '/fake/ort';
    const providerLibs = {
      [`${bin}/libonnxruntime_providers_cuda.so`]: '',
      [`${bin}/libonnxruntime_providers_shared.so`]: '',
    };
    const partial = probeProviders(
      fakeEnv(
        { ...providerLibs, '/fake/lib/libcuda.so.1': '' },
        { ortBinDir: bin, ldCache: 'libcudart.so.12\0' },
      ),
    )[0]!;
    expect(partial.available).toBe(false);
    expect(partial.reason).toMatch(/libcublas\.so\.12 \(cuBLAS 12\), libcudnn\.so\.9 \(cuDNN 9\) not found/);
    expect(partial.reason).not.toMatch(/libcudart/);
    const full = probeProviders(
      fakeEnv(
        {
          ...providerLibs,
          '/fake/lib/libcuda.so.1': '',
          '/fake/lib/libcudart.so.12': '',
          '/fake/lib/libcublas.so.12': '',
          '/fake/lib/libcudnn.so.9': '',
        },
        { ortBinDir: bin },
      ),
    )[0]!;
    expect(full.available).toBe(true);
  });

  it('does not take libcudart.so.1 in the linker cache for libcudart.so.12', () => {
    const bin = '/fake/ort';
    const probe = probeProviders(
      fakeEnv(
        {
          [`${bin}/libonnxruntime_providers_cuda.so`]: '',
          [`${bin}/libonnxruntime_providers_shared.so`]: '',
        },
        { ortBinDir: bin, ldCache: 'libcudart.so.120\0libcuda.so.1\0' },
      ),
    )[0]!;
    expect(probe.reason).toMatch(/libcudart\.so\.12 \(CUDA 12 runtime\)/);
  });
});

describe('summariseOrtError', () => {
  it("keeps the human part of onnxruntime's assertion messages", () => {
    const raw =
      '/onnxruntime_src/onnxruntime/core/providers/webgpu/webgpu_context.cc:136 onnxruntime::webgpu::WebGpuContext::Initialize(const onnxruntime::webgpu::WebGpuContextConfig&)::<lambda()> adapter_result.status == wgpu::RequestAdapterStatus::Success was false. Failed to get a WebGPU adapter: No supported adapters\n';
    expect(summariseOrtError(raw)).toBe('Failed to get a WebGPU adapter: No supported adapters');
    expect(
      summariseOrtError('OrtSessionOptionsAppendExecutionProvider_Cuda: Failed to load shared library'),
    ).toBe('OrtSessionOptionsAppendExecutionProvider_Cuda: Failed to load shared library');
  });
});

describe('createSession on this CPU machine', () => {
  let textModel: string;
  beforeAll(async () => {
    textModel = path.join(await getTinyModelDir(), 'onnx', 'text_model.onnx');
  });

  it('auto with webgpu and cuda unavailable runs on cpu and logs each skip once', async () => {
    const { logger, lines } = memoryLogger();
    const env = fakeEnv({});
    const first = await createSession(textModel, { provider: 'auto', threads: 1, logger, env });
    expect(first.provider).toBe('cpu');
    expect(first.skipped.map((s) => s.name)).toEqual(['cuda', 'webgpu']);
    const second = await createSession(textModel, { provider: 'auto', threads: 1, logger, env });
    expect(second.provider).toBe('cpu');
    const skips = lines.filter((l) => l.msg === 'execution provider skipped');
    expect(skips.map((l) => l.provider)).toEqual(['cuda', 'webgpu']);
    expect(skips[0]!.reason).toMatch(/CUDA provider libraries are not installed/);
    expect(skips[1]!.reason).toMatch(/libvulkan\.so\.1 not found/);
    expect(skips.every((l) => l.level === 30)).toBe(true);
    await Promise.all([first.session.release(), second.session.release()]);
  });

  it.runIf(cpuOnlyMachine)('auto on the real environment picks cpu', async () => {
    const { logger, lines } = memoryLogger();
    const created = await createSession(textModel, { provider: 'auto', threads: 1, logger });
    expect(created.provider).toBe('cpu');
    const skipped = lines.filter((l) => l.msg === 'execution provider skipped').map((l) => l.provider);
    expect(skipped).toEqual(['cuda', 'webgpu']);
    await created.session.release();
  });

  it.runIf(cpuOnlyMachine)('forced webgpu is a clear error naming what is missing', async () => {
    const { logger } = memoryLogger();
    const err = await createSession(textModel, { provider: 'webgpu', threads: 1, logger }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ImageSearchError);
    const e = err as ImageSearchError;
    expect(e.code).toBe('config_invalid');
    expect(e.userMessage).toMatch(/^IMAGESEARCH_EP=webgpu can't run on this machine — webgpu: /);
    expect(e.userMessage).toMatch(/libvulkan\.so\.1|Vulkan driver|WebGPU adapter/);
    expect(e.userMessage).toMatch(/Set IMAGESEARCH_EP=auto or cpu/);
  });

  it.runIf(cpuOnlyMachine)('forced cuda is a clear error naming what is missing', async () => {
    const { logger } = memoryLogger();
    const err = await createSession(textModel, { provider: 'cuda', threads: 1, logger }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ImageSearchError);
    const e = err as ImageSearchError;
    expect(e.code).toBe('config_invalid');
    expect(e.userMessage).toMatch(/^IMAGESEARCH_EP=cuda can't run on this machine — cuda: /);
    expect(e.userMessage).toMatch(/ONNXRUNTIME_NODE_INSTALL=cuda12|libcudart|libcudnn/);
  });

  describe.runIf(cpuOnlyMachine)('when the machine claims Vulkan but has no GPU adapter', () => {
    const vulkanClaimed = () =>
      fakeEnv({
        '/fake/lib/libvulkan.so.1': '',
        '/usr/share/vulkan/icd.d/nvidia_icd.json': NVIDIA_ICD_JSON,
      });

    it('auto attempts webgpu, logs why it failed and falls back to cpu', async () => {
      const { logger, lines } = memoryLogger();
      const env = vulkanClaimed();
      expect(probeProviders(env)[1]!.available).toBe(true);
      const created = await createSession(textModel, { provider: 'auto', threads: 1, logger, env });
      expect(created.provider).toBe('cpu');
      const webgpu = created.skipped.find((s) => s.name === 'webgpu');
      expect(webgpu?.reason).toMatch(/^session creation failed: /);
      // Not the probe's reason: onnxruntime was asked for a WebGPU adapter and said there is none.
      expect(webgpu?.reason).not.toMatch(/libvulkan\.so\.1 not found/);
      const logged = lines.find((l) => l.msg === 'execution provider skipped' && l.provider === 'webgpu');
      expect(logged?.reason).toBe(webgpu?.reason);
      // The session that did get created works.
      const ids = new (await import('onnxruntime-node')).Tensor(
        'int64',
        new BigInt64Array([49406n, 49407n]),
        [1, 2],
      );
      const feeds: Record<string, typeof ids> = {};
      for (const n of created.session.inputNames) feeds[n] = ids;
      const out = await created.session.run(feeds, ['text_embeds']);
      expect(out.text_embeds!.dims).toEqual([1, 512]);
      await created.session.release();
    });

    it('forced webgpu fails with the adapter error, not a silent cpu session', async () => {
      const { logger, lines } = memoryLogger();
      const err = await createSession(textModel, {
        provider: 'webgpu',
        threads: 1,
        logger,
        env: vulkanClaimed(),
      }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ImageSearchError);
      expect((err as ImageSearchError).userMessage).toMatch(
        /IMAGESEARCH_EP=webgpu can't run on this machine — webgpu: session creation failed: /,
      );
      expect(lines.some((l) => l.msg === 'execution provider skipped' && l.provider === 'webgpu')).toBe(true);
    });
  });

  it('a file that is not ONNX is model_invalid whatever the provider', async () => {
    const { logger } = memoryLogger();
    const err = await createSession(path.join(await getTinyModelDir(), 'config.json'), {
      provider: 'cpu',
      threads: 1,
      logger,
    }).catch((e: unknown) => e);
    expect((err as ImageSearchError).code).toBe('model_invalid');
  });
});

describe('buildBatchSize', () => {
  it('gives GPUs bigger batches than the CPU', () => {
    expect(buildBatchSize('cpu')).toBe(16);
    expect(buildBatchSize('webgpu')).toBe(64);
    expect(buildBatchSize('cuda')).toBe(64);
  });
});
