import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import {
  compareRuns,
  cosine,
  cosineStats,
  type GpuReport,
  latency,
  percentile,
  syntheticQueries,
} from '../../scripts/device/report.ts';
import { probeProviders } from '../../src/clip/providers.ts';
import { CLIP_FIXTURES_DIR, IMAGES_DIR, REPO_ROOT, tempDir } from '../support/fixtures.ts';

const exec = promisify(execFile);
const cpuOnlyMachine = probeProviders().every((p) => p.name === 'cpu' || !p.available);
const packed = existsSync(path.join(REPO_ROOT, '.device', 'manifest.json'));

async function runCheck(args: string[]): Promise<{ code: number; report: GpuReport; stderr: string }> {
  const out = path.join(tempDir('imagesearch-gpu-check-'), 'gpu-report.json');
  const argv = [
    'bin/run-script.js',
    'scripts/device/gpu-check.ts',
    '--preset',
    'tiny',
    '--images',
    '8',
    '--queries',
    '8',
    '--clip-files',
    CLIP_FIXTURES_DIR,
    '--images-dir',
    IMAGES_DIR,
    '--out',
    out,
    ...args,
  ];
  let code = 0;
  let stderr = '';
  try {
    ({ stderr } = await exec('node', argv, { cwd: REPO_ROOT }));
  } catch (e) {
    const err = e as { code: number; stderr: string };
    code = err.code;
    stderr = err.stderr;
  }
  return { code, report: JSON.parse(readFileSync(out, 'utf8')) as GpuReport, stderr };
}

describe('report arithmetic', () => {
  it('takes nearest-rank percentiles', () => {
    const v = [5, 1, 4, 2, 3, 10, 9, 8, 7, 6];
    expect(percentile(v, 50)).toBe(5);
    expect(percentile(v, 95)).toBe(10);
    expect(percentile([3], 95)).toBe(3);
    expect(percentile([], 50)).toBeNaN();
    expect(latency([1, 2, 3, 4])).toEqual({ queries: 4, p50Ms: 2, p95Ms: 4, meanMs: 2.5, maxMs: 4 });
  });

  it('measures agreement row by row and fails a single stray embedding', () => {
    const a = [new Float32Array([1, 0]), new Float32Array([0, 1])];
    expect(cosine(a[0]!, new Float32Array([2, 0]))).toBe(1);
    const near = [new Float32Array([1, 0.01]), new Float32Array([0, 1])];
    const off = [new Float32Array([1, 0]), new Float32Array([0.2, 1])];
    expect(cosineStats(a, near, 0.999)).toMatchObject({ count: 2, below: 0 });
    const bad = cosineStats(a, off, 0.999);
    expect(bad.below).toBe(1);
    expect(bad.min).toBeLessThan(0.99);
    const meta = { variant: 'fp32', provider: 'webgpu', against: 'cpu', threshold: 0.999 };
    const cpu = { images: new Map([[16, a]]), queries: a };
    expect(compareRuns(meta, { images: new Map([[16, near]]), queries: near }, cpu).pass).toBe(true);
    const failed = compareRuns(meta, { images: new Map([[16, a]]), queries: off }, cpu);
    expect(failed.pass).toBe(false);
    expect(failed.images[0]).toMatchObject({ batch: 16, below: 0 });
    expect(failed.queries?.below).toBe(1);
  });

  it('makes 256 distinct queries, some past 77 tokens', () => {
    const q = syntheticQueries(256);
    expect(new Set(q).size).toBe(256);
    expect(q.some((s) => s.split(' ').length > 40)).toBe(true);
  });
});

describe('gpu-check.ts on this CPU machine', () => {
  it('writes a well-formed report for --providers cpu --images 8 --queries 8 --preset tiny', async () => {
    const { code, report } = await runCheck(['--providers', 'cpu']);
    expect(report.errors).toEqual([]);
    expect(code).toBe(0);
    expect(report.schema).toBe(1);
    expect(report.ok).toBe(true);
    expect(report.finishedAt).toBeTruthy();
    expect(report.ortVersion).toBe('1.30.0');
    expect(report.supportedBackends.map((b) => b.name)).toContain('webgpu');
    expect(report.probes.map((p) => p.name)).toEqual(['cuda', 'webgpu', 'cpu']);
    expect(report.options).toMatchObject({ preset: 'tiny', images: 8, queries: 8, batches: [1, 16, 64] });
    expect(report.modelGenerationMs).toBeGreaterThan(0);
    expect(report.preprocessImagesPerSec).toBeGreaterThan(0);
    expect(report.runs.map((r) => `${r.variant}/${r.provider}`)).toEqual(['fp32/cpu', 'fp16/cpu']);
    for (const run of report.runs) {
      expect(run.error).toBeUndefined();
      expect(run.providerUsed).toEqual({ text: 'cpu', vision: 'cpu' });
      expect(run.imagePasses.map((p) => [p.batch, p.images])).toEqual([
        [1, 8],
        [16, 8],
        [64, 8],
      ]);
      for (const p of run.imagePasses) expect(p.imagesPerSec).toBeGreaterThan(0);
      expect(run.queries!.queries).toBe(8);
      expect(run.queries!.p50Ms).toBeLessThanOrEqual(run.queries!.p95Ms);
    }
    // No GPU run, so nothing to compare; fp16 is still set against fp32 for information.
    expect(report.comparisons).toEqual([]);
    expect(report.fp16VsFp32?.[0]?.images.count).toBe(8);
    const loaded = report.logs.filter((l) => l.msg === 'CLIP encoder loaded');
    expect(loaded.length).toBe(4);
    expect(loaded.every((l) => l.provider === 'cpu')).toBe(true);
    if (cpuOnlyMachine) expect(report.autoSelection?.provider).toBe('cpu');
  });

  it.runIf(cpuOnlyMachine)('records a webgpu failure per run and reports not ok', async () => {
    const { code, report } = await runCheck([
      '--providers',
      'webgpu,cpu',
      '--variants',
      'fp32',
      '--batches',
      '4',
    ]);
    expect(code).toBe(1);
    expect(report.ok).toBe(false);
    // The CPU twin runs first so a GPU crash can't take its baseline with it.
    expect(report.runs.map((r) => r.provider)).toEqual(['cpu', 'webgpu']);
    const webgpu = report.runs[1]!;
    expect(webgpu.error).toMatch(/IMAGESEARCH_EP=webgpu can't run on this machine — webgpu: /);
    expect(report.errors).toHaveLength(1);
    expect(report.runs[0]!.imagePasses[0]!.images).toBe(8);
    expect(report.autoSelection?.skipped.map((s) => s.name)).toEqual(['cuda', 'webgpu']);
    expect(report.logs.some((l) => l.msg === 'execution provider skipped' && l.provider === 'webgpu')).toBe(
      true,
    );
  });
});

describe.runIf(packed)('gpu-check.sh with the packed kit', () => {
  it('unpacks node and the kit, runs the bundle and leaves the report and log in $OUT', async () => {
    const out = tempDir('imagesearch-gpu-check-sh-');
    const { stdout } = await exec(
      'bash',
      [
        'scripts/device/gpu-check.sh',
        '--providers',
        'cpu',
        '--preset',
        'tiny',
        '--images',
        '4',
        '--queries',
        '4',
      ],
      { cwd: REPO_ROOT, env: { ...process.env, OUT: out } },
    );
    expect(stdout).toMatch(/unpacked node v\d+\.\d+\.\d+/);
    expect(stdout).toMatch(/gpu-check exited 0/);
    const report = JSON.parse(readFileSync(path.join(out, 'gpu-report.json'), 'utf8')) as GpuReport;
    expect(report.ok).toBe(true);
    expect(report.runs.every((r) => r.providerUsed?.vision === 'cpu')).toBe(true);
    expect(existsSync(path.join(out, 'gpu-check.log'))).toBe(true);
  });
});
