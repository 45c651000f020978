/**
 * Labelled sets: the exact refusal texts (the line, the field, zod's reason), whitespace-only lines,
 * the default name of the source, and a written set reading back as it was.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseLabelledSet, readLabelledSet, writeLabelledSet } from '../../src/eval/labelled-set.ts';
import { tempDir } from '../support/fixtures.ts';

const shape = 'Each line must be {"query": "…", "relevant": ["id", …]}.';

describe('labelled sets, read and written', () => {
  it('refusals name the source, the line and the field, word for word', () => {
    const message = (text: string, source?: string) => {
      try {
        parseLabelledSet(text, source);
      } catch (e) {
        return (e as { userMessage: string }).userMessage;
      }
      return 'accepted';
    };
    expect(message('{"query": "x", "relevant": []}', 'q.jsonl')).toBe(
      `q.jsonl, line 1: "relevant": relevant lists no ids. ${shape}`,
    );
    // No field to name: zod's own reason follows the line number directly.
    expect(message('["x"]', 'q.jsonl')).toMatch(/^q\.jsonl, line 1: Invalid input[^"]*\. Each line must be/);
    // A field inside a list is named by its path.
    expect(message('{"query": "x", "relevant": ["a", ""]}', 'q.jsonl')).toMatch(
      /^q\.jsonl, line 1: "relevant\.1": /,
    );
    expect(message('')).toBe('the queries file has no queries (one {"query", "relevant"} object per line).');
    // A line of blanks is a blank line, not a malformed one.
    expect(parseLabelledSet('   \n{"query":"q","relevant":["a"]}\n \t \n')).toEqual([
      { query: 'q', relevant: ['a'] },
    ]);
  });

  it('a missing file keeps the file system error as the cause', async () => {
    const file = path.join(tempDir(), 'nope.jsonl');
    await expect(readLabelledSet(file)).rejects.toMatchObject({
      code: 'usage',
      userMessage: `Cannot read ${file}.`,
      cause: expect.objectContaining({ code: 'ENOENT' }),
    });
  });

  it('a written set is one JSON object a line and reads back unchanged', async () => {
    const file = path.join(tempDir(), 'set.jsonl');
    const set = [
      { query: 'cats on a sofa', relevant: ['a', 'b'] },
      { query: 'red bikes', relevant: ['c'] },
    ];
    await writeLabelledSet(file, set);
    expect(readFileSync(file, 'utf8')).toBe(
      '{"query":"cats on a sofa","relevant":["a","b"]}\n{"query":"red bikes","relevant":["c"]}\n',
    );
    expect(await readLabelledSet(file)).toEqual(set);
  });
});
