/**
 * The configuration schema (src/util/config.ts) is the one list of variables: every variable it reads
 * is documented (README.md or docs/*.md) and listed in .env.example with its default, and every
 * variable the docs name is one the schema reads, or one named below as belonging to another program.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'dotenv';
import { describe, expect, it } from 'vitest';
import { CONFIG_VARIABLES, loadConfig } from '../../src/util/config.ts';
import { REPO_ROOT } from '../support/fixtures.ts';

/** Variables the docs name that imagesearch itself never reads, and whose they are. */
const NOT_OURS: Record<string, string> = {
  ONNXRUNTIME_NODE_INSTALL: 'onnxruntime-node install script',
  CUDA_PATH: 'CUDA toolkit',
  LD_LIBRARY_PATH: 'the dynamic linker',
  NVIDIA_DRIVER_CAPABILITIES: 'NVIDIA container toolkit',
  VK_ICD_FILENAMES: 'Vulkan loader',
  VK_DRIVER_FILES: 'Vulkan loader',
  VK_ADD_DRIVER_FILES: 'Vulkan loader',
  GPU_CHECK_DEADLINE_S: 'scripts/device (the GPU check, not the program)',
  GPU_CHECK_TIMEOUT_S: 'scripts/device (the GPU check, not the program)',
  FUZZ_SEED: 'the fuzz test',
  MUTATION_TESTS: 'config/mutation/vitest.one.config.ts (a one-module mutation run)',
  LANCEDB_LOG: 'LanceDB (its Rust log level; src/index/engines/lance-runtime.ts sets the default)',
  // Not variables: a placeholder in the README's Discord invite URL, code constants docs/benchmarks.md quotes.
  YOUR_APPLICATION_ID: 'a placeholder in the Discord invite URL',
  ENCODER_SESSION_OPTIONS: 'a constant in src/clip/providers.ts',
  CLIP_GRID_LEAD_MS: 'a constant in src/search/search-service.ts',
  // Not variables: Vulkan and driver constants quoted in docs/gpu.md.
  ERROR_INCOMPATIBLE_DRIVER: 'a Vulkan error code',
  PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: 'a Vulkan device type',
  INTEGRATED_GPU: 'a Vulkan device type',
};

function docs(): Record<string, string> {
  const files = ['README.md', ...readdirSync(path.join(REPO_ROOT, 'docs')).map((f) => `docs/${f}`)];
  return Object.fromEntries(
    files.filter((f) => f.endsWith('.md')).map((f) => [f, readFileSync(path.join(REPO_ROOT, f), 'utf8')]),
  );
}

describe('configuration variables and their documentation', () => {
  it('every variable the schema reads is documented in README.md or docs/*.md', () => {
    const text = Object.values(docs()).join('\n');
    const undocumented = CONFIG_VARIABLES.filter((v) => !new RegExp(`\\b${v}\\b`).test(text));
    expect(undocumented).toEqual([]);
  });

  it('every variable README.md and docs/*.md name is read by the schema (or is another program’s)', () => {
    const named = new Set<string>();
    for (const text of Object.values(docs()))
      for (const m of text.matchAll(/\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b/g)) named.add(m[0]);
    const unknown = [...named].filter((v) => !CONFIG_VARIABLES.includes(v) && !(v in NOT_OURS));
    expect(unknown).toEqual([]);
    // The exceptions stay honest: none of them is ours.
    expect(Object.keys(NOT_OURS).filter((v) => CONFIG_VARIABLES.includes(v))).toEqual([]);
  });

  it('.env.example lists every variable once, and as written it configures exactly the defaults', () => {
    const text = readFileSync(path.join(REPO_ROOT, '.env.example'), 'utf8');
    const active = parse(text);
    const commented = [...text.matchAll(/^# ([A-Z][A-Z0-9_]*)=/gm)].map((m) => m[1]!);
    const listed = [...Object.keys(active), ...commented];
    expect([...listed].sort()).toEqual([...CONFIG_VARIABLES].sort());
    expect(new Set(listed).size).toBe(listed.length);
    expect(loadConfig(active)).toEqual(loadConfig({}));
  });

  it('README links .env.example', () => {
    expect(docs()['README.md']).toContain('(.env.example)');
  });
});
