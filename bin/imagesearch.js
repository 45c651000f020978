#!/usr/bin/env node
// Entry point for `npx imagesearch`. Sources are TypeScript, run through tsx's loader so that
// `npm ci` is all a clone needs (no separate build step to forget).
import { register } from 'tsx/esm/api';

register();
await import('../adapters/cli/main.ts');
