/**
 * `imagesearch doctor`: checks each part the bot needs and says what is wrong and how to fix it:
 * the configuration, the core's parts (here) and each platform's credentials (its registry
 * entry's check). Output never contains a secret: messages are built from what we know, never from
 * raw API bodies, and every line is scrubbed once more.
 */
import { randomUUID } from 'node:crypto';
import { GoogleGenAI } from '@google/genai';
import type { ClipModel } from '../../src/clip/clip-model.ts';
import { asImageSearchError } from '../../src/core/errors.ts';
import type { LoadedIndex } from '../../src/index/engines/types.ts';
import { openVectorIndex } from '../../src/index/open.ts';
import {
  costPerRequest,
  GEMINI_PRICE_SOURCE,
  geminiPrice,
  rerankTokensAtCurrentPrompt,
} from '../../src/metrics/cost.ts';
import { createStateStore } from '../../src/state/state-store.ts';
import { type Config, loadConfig } from '../../src/util/config.ts';
import { withDeadline } from '../../src/util/deadline.ts';
import { scrubText } from '../../src/util/log-scrub.ts';
import { type Logger, silentLogger } from '../../src/util/logger.ts';
import type { CheckResult, CheckStatus, DoctorCheck } from '../kit/platform.ts';
import { PLATFORMS } from './platforms.ts';
import { loadModel } from './stack.ts';

/** Shared by the model and index checks, so the index is checked against the model really loaded. */
interface ModelFacts {
  modelId: string;
  dim: number;
}

const ICON: Record<CheckStatus, string> = { ok: '✔', fail: '✖', warn: '!', off: '–' };

/** Runs every check in order, writes one line each (plus a fix line), returns the exit code. */
export async function runDoctor(
  checks: DoctorCheck[],
  write: (line: string) => void,
  opts: { timeoutMs?: number } = {},
): Promise<number> {
  let failed = 0;
  const width = Math.max(...checks.map((c) => c.name.length));
  for (const check of checks) {
    const result = await runOne(check, opts.timeoutMs ?? 15_000);
    if (result.status === 'fail') failed += 1;
    write(scrubText(`${ICON[result.status]} ${check.name.padEnd(width)}  ${result.detail}`));
    if (result.fix && result.status !== 'ok') write(scrubText(`  ${' '.repeat(width)}  → ${result.fix}`));
  }
  write(failed === 0 ? 'All required checks passed.' : `${failed} check(s) failed.`);
  return failed === 0 ? 0 : 1;
}

async function runOne(check: DoctorCheck, timeoutMs: number): Promise<CheckResult> {
  try {
    const outcome = await withDeadline(timeoutMs, undefined, () => check.run(), check.name);
    if (outcome.ok) return outcome.value;
    return { status: 'fail', detail: `no answer within ${Math.round(timeoutMs / 1000)} s` };
  } catch (e) {
    return { status: 'fail', detail: asImageSearchError(e).userMessage };
  }
}

/** Model (loads the text encoder: variant and execution provider) and index (size, model match). */
export function modelAndIndexChecks(config: Config, logger: Logger): DoctorCheck[] {
  let model: ModelFacts | undefined;
  return [
    {
      name: 'model',
      async run() {
        let clip: ClipModel | undefined;
        try {
          clip = await loadModel(config, logger);
          await clip.warm(['text']);
          const providers = await clip.providers();
          model = { modelId: clip.modelId, dim: clip.dim };
          return {
            status: 'ok',
            detail: `${clip.modelId} (${clip.variant}, ${clip.dim}-d) on ${providers.text ?? '?'} — ${config.modelDir}`,
          };
        } catch (e) {
          return {
            status: 'fail',
            detail: asImageSearchError(e).userMessage,
            fix: 'run `npx imagesearch setup`, or set IMAGESEARCH_MODEL_DIR to a CLIP model in Hugging Face layout',
          };
        } finally {
          await clip?.close();
        }
      },
    },
    {
      name: 'index',
      async run() {
        let index: LoadedIndex | undefined;
        try {
          index = await openVectorIndex(config.indexDir, model ? { expect: model } : {});
          if (index.size === 0)
            return {
              status: 'fail',
              detail: `the index in ${config.indexDir} is empty`,
              fix: 'build it: `npx imagesearch index …` or `npx imagesearch setup`',
            };
          return {
            status: 'ok',
            detail: `${index.size} images, built with ${index.modelId}${model ? ' (matches the model)' : ''} — ${index.engine} engine, ${config.indexDir}`,
          };
        } catch (e) {
          const err = asImageSearchError(e);
          return {
            status: 'fail',
            detail: err.userMessage,
            fix:
              err.code === 'index_model_mismatch'
                ? 'rebuild the index with this model (`npx imagesearch index …`), or point IMAGESEARCH_INDEX_DIR at a matching index'
                : 'run `npx imagesearch setup`, or set IMAGESEARCH_INDEX_DIR to an index folder',
          };
        } finally {
          await index?.close();
        }
      },
    },
  ];
}

/** Gemini: one tiny generateContent call through @google/genai (GEMINI_BASE_URL honoured). */
export function geminiCheck(config: Config): DoctorCheck {
  return {
    name: 'gemini',
    async run() {
      if (!config.geminiApiKey)
        return {
          status: 'off',
          detail: 'off — results are ranked by CLIP alone',
          fix: 'set GEMINI_API_KEY to rerank with Gemini (optional)',
        };
      const client = new GoogleGenAI({
        apiKey: config.geminiApiKey,
        vertexai: false,
        ...(config.geminiBaseUrl ? { httpOptions: { baseUrl: config.geminiBaseUrl } } : {}),
      });
      try {
        await client.models.generateContent({
          model: config.geminiModel,
          contents: 'Reply with the single word: ok',
          config: {
            maxOutputTokens: 4,
            abortSignal: AbortSignal.timeout(Math.max(5000, config.geminiTimeoutMs)),
          },
        });
        return { status: 'ok', detail: `${config.geminiModel} answers` };
      } catch (e) {
        return geminiFailure(e, config);
      }
    },
  };
}

function geminiFailure(e: unknown, config: Config): CheckResult {
  const status =
    typeof (e as { status?: unknown })?.status === 'number' ? (e as { status: number }).status : 0;
  const message = e instanceof Error ? e.message : '';
  if (status === 400 && /API[_ ]KEY/i.test(message))
    return { status: 'fail', detail: 'the API key was rejected', fix: 'set GEMINI_API_KEY to a valid key' };
  if (status === 401 || status === 403)
    return {
      status: 'fail',
      detail: `access denied (HTTP ${status})`,
      fix: 'check GEMINI_API_KEY and that the Generative Language API is enabled for its project',
    };
  if (status === 404)
    return {
      status: 'fail',
      detail: `model "${config.geminiModel}" not found`,
      fix: 'set GEMINI_MODEL to an available model, e.g. gemini-2.5-flash',
    };
  // Busy or unreachable: the bot still answers (CLIP order), so this is a warning, not a failure.
  const why = status ? `HTTP ${status}` : /abort|timeout/i.test(message) ? 'timed out' : 'unreachable';
  return {
    status: 'warn',
    detail: `not usable right now (${why}); searches fall back to CLIP order`,
    fix: config.geminiBaseUrl ? 'check GEMINI_BASE_URL and the network' : 'check the network; retry later',
  };
}

/**
 * Cost: the Gemini price in force (GEMINI_PRICE_*_PER_MTOK or the model's list price) and what one
 * search costs at the current rerank prompt. No call is made: the tokens are counted from the prompt.
 */
export function costCheck(config: Config): DoctorCheck {
  return {
    name: 'cost',
    async run() {
      if (!config.geminiApiKey) return { status: 'off', detail: 'off — no Gemini calls, no token cost' };
      const price = geminiPrice(config.geminiModel, config.geminiPriceOverride);
      const tokens = rerankTokensAtCurrentPrompt();
      const perSearch = `${tokens.promptTokens} input + ≤ ${tokens.outputTokens} output tokens`;
      if (!price)
        return {
          status: 'warn',
          detail: `no list price for ${config.geminiModel}; a reranked search is ${perSearch}`,
          fix: 'set GEMINI_PRICE_INPUT_PER_MTOK and GEMINI_PRICE_OUTPUT_PER_MTOK (USD per million tokens)',
        };
      const usd = costPerRequest({ requests: 1, ...tokens }, price).usd ?? 0;
      const from = price.source === 'configured' ? 'GEMINI_PRICE_*_PER_MTOK' : GEMINI_PRICE_SOURCE;
      return {
        status: 'ok',
        detail:
          `${config.geminiModel} at $${price.inputPerMTok} in / $${price.outputPerMTok} out per million tokens (${from}); ` +
          `a reranked search ≈ ${perSearch} ≈ $${usd.toFixed(5)}`,
      };
    },
  };
}

/** State store: a set/get/delete round trip (waits briefly for Redis to connect). */
export function stateCheck(config: Config, logger: Logger, opts: { waitMs?: number } = {}): DoctorCheck {
  return {
    name: 'state',
    async run() {
      let store: ReturnType<typeof createStateStore> | undefined;
      try {
        store = createStateStore({
          url: config.stateUrl,
          dataDir: config.dataDir,
          ttlMs: 60_000,
          logger,
        });
        const key = `doctor:${randomUUID()}`;
        const deadline = Date.now() + (opts.waitMs ?? 3000);
        // The store degrades instead of throwing: a round trip that reads back what it wrote is the proof.
        for (;;) {
          await store.set(key, { at: Date.now() }, 60_000);
          const back = await store.get<{ at: number }>(key);
          if (back && typeof back.at === 'number') break;
          if (Date.now() > deadline)
            return {
              status: 'fail',
              detail: `the ${store.backend} store did not answer a write and read back`,
              fix:
                store.backend === 'redis'
                  ? 'start Redis or fix STATE_URL (redis://HOST:6379)'
                  : 'check that IMAGESEARCH_DATA_DIR is writable, or set STATE_URL',
            };
          await new Promise((r) => setTimeout(r, 100));
        }
        await store.delete(key);
        if ((await store.get(key)) !== undefined)
          return {
            status: 'fail',
            detail: `the ${store.backend} store did not delete a key`,
            fix: 'check STATE_URL',
          };
        return { status: 'ok', detail: `${store.backend}: write, read and delete work` };
      } catch (e) {
        return { status: 'fail', detail: asImageSearchError(e).userMessage, fix: 'check STATE_URL' };
      } finally {
        await store?.close();
      }
    },
  };
}

/** Every check, in the order they are printed: the core's, then each platform's. */
export function doctorChecks(config: Config, logger: Logger): DoctorCheck[] {
  return [
    ...modelAndIndexChecks(config, logger),
    stateCheck(config, logger),
    geminiCheck(config),
    costCheck(config),
    ...PLATFORMS.flatMap((p) => (p.doctor ? [p.doctor(config)] : [])),
  ];
}

/** Runs doctor against an environment; returns the exit code. A bad configuration is reported, not thrown. */
export async function doctor(
  env: NodeJS.ProcessEnv,
  write: (line: string) => void,
  logger: Logger = silentLogger(),
): Promise<number> {
  let config: Config;
  try {
    config = loadConfig(env);
  } catch (e) {
    write(`✖ config  ${asImageSearchError(e).userMessage}`);
    write('          → fix the variables named above (in the environment or .env)');
    return 1;
  }
  write(`✔ config  valid (data in ${config.dataDir})`);
  return runDoctor(doctorChecks(config, logger), write);
}
