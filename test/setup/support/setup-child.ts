/**
 * Runs setup in its own process so tests can SIGKILL it mid-way. Configuration comes from the
 * environment like the real CLI; IMAGESEARCH_TEST_NETWORK (JSON) shrinks timeouts, and
 * IMAGESEARCH_TEST_LIMIT sets --limit. Prints the result as JSON on stdout.
 */

import { setupIndexBuilder } from '../../../adapters/app/data.ts';
import { runSetup } from '../../../src/setup/setup.ts';
import { loadConfig } from '../../../src/util/config.ts';
import { createLogger } from '../../../src/util/logger.ts';
import { recordingBuilder } from './setup-fixtures.ts';

const config = loadConfig(process.env);
const logger = createLogger({ level: process.env.LOG_LEVEL ?? 'warn', pretty: false });
const controller = new AbortController();
process.once('SIGINT', () => controller.abort(new Error('interrupted')));
const network = process.env.IMAGESEARCH_TEST_NETWORK
  ? JSON.parse(process.env.IMAGESEARCH_TEST_NETWORK)
  : undefined;
const limit = process.env.IMAGESEARCH_TEST_LIMIT ? Number(process.env.IMAGESEARCH_TEST_LIMIT) : undefined;
try {
  const result = await runSetup({
    config,
    logger,
    limit,
    network,
    progress: true,
    signal: controller.signal,
    buildIndex: process.env.IMAGESEARCH_TEST_REAL_INDEX ? setupIndexBuilder(config) : recordingBuilder,
  });
  process.stdout.write(`${JSON.stringify(result)}\n`);
} catch (e) {
  process.stderr.write(`SETUP FAILED: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
}
