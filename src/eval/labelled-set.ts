/**
 * Labelled query sets for `imagesearch eval`: JSON Lines, one `{"query": "…", "relevant": ["id", …]}`
 * per line. Read strictly (a bad line is named by its number) because a silently skipped query
 * would change the averages a user compares.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { z } from 'zod';
import { ImageSearchError } from '../core/errors.ts';

const lineSchema = z.object({
  query: z.string().trim().min(1, 'query is empty'),
  relevant: z.array(z.string().min(1)).min(1, 'relevant lists no ids'),
});

export type LabelledQuery = z.infer<typeof lineSchema>;

/** Parses JSONL text; blank lines are allowed, anything else malformed throws a `usage` error. */
export function parseLabelledSet(text: string, source = 'the queries file'): LabelledQuery[] {
  const out: LabelledQuery[] = [];
  const lines = text.split(/\r?\n/);
  for (const [i, line] of lines.entries()) {
    if (line.trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      throw bad(source, i + 1, 'is not JSON');
    }
    const parsed = lineSchema.safeParse(value);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const where = issue?.path.length ? `"${issue.path.join('.')}": ` : '';
      throw bad(source, i + 1, `${where}${issue?.message ?? 'is not {"query", "relevant"}'}`);
    }
    out.push({ query: parsed.data.query, relevant: [...new Set(parsed.data.relevant)] });
  }
  if (out.length === 0)
    throw new ImageSearchError(
      'usage',
      `${source} has no queries (one {"query", "relevant"} object per line).`,
    );
  return out;
}

export async function readLabelledSet(file: string): Promise<LabelledQuery[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new ImageSearchError('usage', `Cannot read ${file}.`, { cause: e });
  }
  return parseLabelledSet(text, file);
}

export async function writeLabelledSet(file: string, set: readonly LabelledQuery[]): Promise<void> {
  await writeFile(file, `${set.map((q) => JSON.stringify(q)).join('\n')}\n`);
}

function bad(source: string, line: number, what: string): ImageSearchError {
  return new ImageSearchError(
    'usage',
    `${source}, line ${line}: ${what}. Each line must be {"query": "…", "relevant": ["id", …]}.`,
  );
}
