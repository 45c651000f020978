/**
 * Block Kit limits as Slack enforces them on chat.postMessage / chat.update, for the local Slack
 * peer. Limits from the Block Kit reference (docs.slack.dev/reference/block-kit): at most 50
 * blocks a message; block_id ≤ 255; section text 1–3000 characters, ≤ 10 fields of ≤ 2000;
 * header plain_text ≤ 150; image alt_text ≤ 2000 (required), title ≤ 2000, exactly one of
 * image_url (≤ 3000) and slack_file; actions 1–25 elements; context 1–10 elements; button text
 * plain_text ≤ 75, action_id ≤ 255, value ≤ 2000, url ≤ 3000, style primary|danger.
 *
 * Slack answers `{ok:false, error:'invalid_blocks', errors:[…], response_metadata:{messages:[…]}}`,
 * each message `[ERROR] <what> [json-pointer:/blocks/…]`. Wordings seen in real answers:
 * "must be less than 3001 characters" and "failed to match all allowed schemas" (yonicd/slackreprex#3),
 * "no more than 100 items allowed [json-pointer:/view/blocks]" (grafana oncall#210), "invalid slack
 * file [json-pointer:/blocks/0/slack_file]" (slackapi/python-slack-sdk#1797). "must be more than 0
 * characters", "missing required field" and the style wording follow the same pattern; they were not
 * found verbatim.
 */

type Json = Record<string, unknown>;

const BLOCK_TYPES = new Set([
  'section',
  'divider',
  'image',
  'actions',
  'context',
  'header',
  'input',
  'file',
  'rich_text',
  'video',
  'markdown',
]);

/** The invalid_blocks answer for these errors (each without its `[ERROR] ` prefix). */
export function invalidBlocks(errors: string[]): Json {
  return {
    ok: false,
    error: 'invalid_blocks',
    errors,
    response_metadata: { messages: errors.map((e) => `[ERROR] ${e}`) },
  };
}

const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Every Block Kit violation in `blocks`, in Slack's wording (without the `[ERROR] ` prefix). */
export function blockErrors(blocks: unknown): string[] {
  const errors: string[] = [];
  const at = (pointer: string, what: string): void => {
    errors.push(`${what} [json-pointer:${pointer}]`);
  };
  const maxLen = (v: unknown, max: number, pointer: string): void => {
    if (typeof v === 'string' && v.length > max) at(pointer, `must be less than ${max + 1} characters`);
  };
  /** A text object: `{type: plain_text|mrkdwn, text}` with 1..max characters. */
  const textObject = (v: unknown, pointer: string, max: number, plainOnly = false): void => {
    if (!isObj(v) || typeof v.text !== 'string') {
      at(pointer, 'failed to match all allowed schemas');
    } else if (v.type !== 'plain_text' && (plainOnly || v.type !== 'mrkdwn')) {
      at(`${pointer}/type`, 'failed to match all allowed schemas');
    } else {
      if (v.text.length === 0) at(`${pointer}/text`, 'must be more than 0 characters');
      maxLen(v.text, max, `${pointer}/text`);
    }
  };
  const list = (v: unknown, min: number, max: number, pointer: string): unknown[] => {
    if (!Array.isArray(v)) {
      at(pointer, 'failed to match all allowed schemas');
      return [];
    }
    if (v.length > max) at(pointer, `no more than ${max} items allowed`);
    if (v.length < min) at(pointer, `must provide at least ${min} items`);
    return v;
  };
  const button = (e: Json, ep: string): void => {
    textObject(e.text, `${ep}/text`, 75, true);
    maxLen(e.value, 2000, `${ep}/value`);
    maxLen(e.url, 3000, `${ep}/url`);
    if (e.style !== undefined && e.style !== 'primary' && e.style !== 'danger')
      at(`${ep}/style`, 'must be one of: primary, danger');
  };
  const image = (block: Json, p: string): void => {
    if (typeof block.alt_text !== 'string') {
      at(p, 'missing required field: alt_text');
      return;
    }
    maxLen(block.alt_text, 2000, `${p}/alt_text`);
    if (block.title !== undefined) textObject(block.title, `${p}/title`, 2000, true);
    if ((block.image_url === undefined) === (block.slack_file === undefined)) {
      at(p, 'failed to match all allowed schemas');
      return;
    }
    maxLen(block.image_url, 3000, `${p}/image_url`);
    if (block.slack_file !== undefined && !isObj(block.slack_file))
      at(`${p}/slack_file`, 'invalid slack file');
  };

  if (!Array.isArray(blocks)) return ['failed to match all allowed schemas [json-pointer:/blocks]'];
  if (blocks.length > 50) at('/blocks', 'no more than 50 items allowed');
  for (const [i, block] of blocks.entries()) {
    const p = `/blocks/${i}`;
    if (!isObj(block) || typeof block.type !== 'string' || !BLOCK_TYPES.has(block.type)) {
      at(p, 'failed to match all allowed schemas');
      continue;
    }
    maxLen(block.block_id, 255, `${p}/block_id`);
    if (block.type === 'section') {
      if (block.text === undefined && block.fields === undefined) at(p, 'missing required field: text');
      if (block.text !== undefined) textObject(block.text, `${p}/text`, 3000);
      if (block.fields !== undefined)
        for (const [j, f] of list(block.fields, 1, 10, `${p}/fields`).entries())
          textObject(f, `${p}/fields/${j}`, 2000);
    } else if (block.type === 'header') {
      textObject(block.text, `${p}/text`, 150, true);
    } else if (block.type === 'image') {
      image(block, p);
    } else if (block.type === 'actions') {
      for (const [j, e] of list(block.elements, 1, 25, `${p}/elements`).entries()) {
        const ep = `${p}/elements/${j}`;
        if (!isObj(e) || typeof e.type !== 'string') at(ep, 'failed to match all allowed schemas');
        else {
          maxLen(e.action_id, 255, `${ep}/action_id`);
          if (e.type === 'button') button(e, ep);
        }
      }
    } else if (block.type === 'context') {
      list(block.elements, 1, 10, `${p}/elements`);
    }
  }
  return errors;
}
