#!/usr/bin/env node
// Runs before `npm start` and `npm test`: installs dependencies on a fresh clone (or after
// package-lock.json changed), so those two commands are all a newcomer needs. Plain Node, no deps.
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';

const marker = 'node_modules/.package-lock.json';
const stale = !existsSync(marker) || statSync(marker).mtimeMs < statSync('package-lock.json').mtimeMs;
if (stale) {
  process.stderr.write('Installing dependencies (npm ci)…\n');
  // onnxruntime-node would fetch CUDA libraries from NuGet; GPU users opt in (docs/gpu.md).
  const env = { ...process.env, ONNXRUNTIME_NODE_INSTALL: process.env.ONNXRUNTIME_NODE_INSTALL ?? 'skip' };
  const r = spawnSync('npm', ['ci', '--no-audit', '--no-fund'], { stdio: 'inherit', env });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
