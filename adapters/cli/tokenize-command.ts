/** `imagesearch tokenize`: CLIP token ids of each text, as the model's own tokenizer makes them. */
import type { Command } from 'commander';
import { loadTokenizer } from '../app/data.ts';
import { abs, type CliContext } from './context.ts';

export function registerTokenizeCommand(program: Command, ctx: CliContext): void {
  program
    .command('tokenize')
    .description('Print CLIP token ids for each text (start/end tokens included, unpadded)')
    .option('--model <dir>', 'model directory (default IMAGESEARCH_MODEL_DIR)')
    .option('--json', 'one JSON object per line: {"text", "ids"}')
    .argument('<text...>', 'texts to tokenize')
    .action(async (texts: string[], o: { model?: string; json?: boolean }) => {
      const tok = await loadTokenizer(ctx.config({ modelDir: abs(o.model) }));
      for (const text of texts) {
        const ids = tok.encode(text);
        ctx.out(o.json ? JSON.stringify({ text, ids }) : `${ids.join(' ')}\t${text}`);
      }
    });
}
