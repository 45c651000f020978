/**
 * The whole bot, as `imagesearch serve` builds it (startBot: core, state, engine, web adapter,
 * metrics and readiness routes), over the tiny fixture model and small index, on 127.0.0.1.
 */
import type { RunningBot } from '../../adapters/app/serve.ts';
import { startBot } from '../../adapters/app/serve.ts';
import type { WebReply } from '../../adapters/web/reply-json.ts';
import { loadConfig } from '../../src/util/config.ts';
import { type Logger, silentLogger } from '../../src/util/logger.ts';
import { IMAGES_DIR, tempDir } from '../support/fixtures.ts';
import { getSmallIndexDir, getTinyModelDir } from '../support/models.ts';

/** The environment of a bot over the tiny model (merge overrides on top). */
export async function tinyBotEnv(overrides: Record<string, string> = {}): Promise<Record<string, string>> {
  return {
    IMAGESEARCH_DATA_DIR: tempDir('imagesearch-prod-'),
    IMAGESEARCH_MODEL_DIR: await getTinyModelDir(),
    IMAGESEARCH_INDEX_DIR: await getSmallIndexDir(),
    // The small index's photos are the fixture images: the operator allows that folder.
    IMAGES_DIR,
    // Random weights give meaningless scores: without this the junk floor may hide everything.
    IMAGESEARCH_MIN_SCORE: '-1',
    IMAGESEARCH_THREADS: '1',
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'silent',
    ...overrides,
  };
}

export async function startTinyBot(
  overrides: Record<string, string> = {},
  logger: Logger = silentLogger(),
): Promise<RunningBot> {
  const config = loadConfig(await tinyBotEnv(overrides));
  return startBot(config, logger);
}

/** A web chat client with its own session cookie (one conversation). */
export class WebClient {
  #cookie = '';
  constructor(readonly base: string) {}

  async post(body: Record<string, string> | string, type = 'application/json'): Promise<[number, WebReply]> {
    const res = await fetch(`${this.base}/api/chat`, {
      method: 'POST',
      body: typeof body === 'string' ? body : JSON.stringify(body),
      headers: { 'content-type': type, ...(this.#cookie ? { cookie: this.#cookie } : {}) },
    });
    const set = res.headers.get('set-cookie');
    if (set) this.#cookie = set.split(';')[0] ?? '';
    return [res.status, (await res.json()) as WebReply];
  }

  search(text: string, followUp = false): Promise<[number, WebReply]> {
    return this.post({ text, followUp: String(followUp) });
  }
}

/** The value of one sample in a Prometheus text exposition (sum over matching label sets). */
export function metricValue(exposition: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of exposition.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const wanted = Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`));
    if (wanted) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}
