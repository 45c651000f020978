/** `imagesearch setup`: the CLIP model and the Unsplash Lite index, resumable after Ctrl-C. */
import type { Command } from 'commander';
import { ImageSearchError } from '../../src/core/errors.ts';
import { setupFromConfig } from '../app/data.ts';
import { type CliContext, positiveInt } from './context.ts';

export function registerSetupCommand(program: Command, ctx: CliContext): void {
  program
    .command('setup')
    .description('Download the CLIP model and build the Unsplash Lite index (resumable)')
    .option('--limit <n>', 'photos to index', positiveInt('--limit'))
    .option('--full', 'index the whole dataset (~25K photos)')
    .option('--no-progress', 'no progress bars')
    .action(async (o: { limit?: number; full?: boolean; progress: boolean }) => {
      const config = ctx.config();
      const logger = ctx.logger({ ...config, logLevel: config.logLevel });
      const controller = new AbortController();
      const stop = () =>
        controller.abort(new ImageSearchError('internal', 'Setup interrupted; run it again to continue.'));
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      try {
        const r = await setupFromConfig(config, logger, {
          limit: o.limit,
          full: o.full,
          progress: o.progress,
          signal: controller.signal,
        });
        ctx.out(`Model ready in ${r.model.dir}.`);
        if (r.index) ctx.out(`Index ready in ${r.index.dir}.`);
      } finally {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
      }
    });
}
