#!/usr/bin/env node
// Runs one of scripts/*.ts with the tsx loader: `node bin/run-script.js scripts/bench.ts --json`.
import { pathToFileURL } from 'node:url';
import { register } from 'tsx/esm/api';

const [script, ...rest] = process.argv.slice(2);
if (!script) {
  process.stderr.write('usage: run-script.js SCRIPT.ts [args…]\n');
  process.exit(2);
}
process.argv = [process.argv[0], script, ...rest];
register();
await import(pathToFileURL(script).href);
