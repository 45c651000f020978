/**
 * Block Kit rendering of core replies. Text fallbacks are always set: they are what notifications,
 * screen readers and old clients show.
 */
import type { types } from '@slack/bolt';
import type { ReplyAction } from '../../src/core/types.ts';
import { truncate } from '../kit/text.ts';
import { escapeSlackText } from './text.ts';

type KnownBlock = types.KnownBlock;
type Button = types.Button;

/** Slack's limits: 3000 chars per section text, 75 per button label; fallback text kept as short. */
const SECTION_MAX = 2900;
const BUTTON_LABEL_MAX = 75;
const FALLBACK_MAX = 3000;

/** One message: the fallback `text` plus the blocks that render it. */
export interface RenderedMessage {
  text: string;
  blocks: KnownBlock[];
}

function button(action: ReplyAction): Button {
  const b: Button = {
    type: 'button',
    action_id: action.id,
    // The id is also the value so a click payload is self-describing in logs.
    value: action.id,
    text: { type: 'plain_text', text: truncate(action.label, BUTTON_LABEL_MAX), emoji: true },
  };
  if (action.style === 'primary') b.style = 'primary';
  return b;
}

/**
 * The buttons under a result: "Open n" on the first row, everything else (more like n, 4 more,
 * start over) on the second, so the rows stay readable on a phone.
 */
export function actionBlocks(actions: readonly ReplyAction[]): KnownBlock[] {
  const open = actions.filter((a) => a.action.type === 'open');
  const rest = actions.filter((a) => a.action.type !== 'open');
  const blocks: KnownBlock[] = [];
  // Slack allows 25 elements per actions block; a result never has that many, but stay safe.
  if (open.length > 0)
    blocks.push({ type: 'actions', block_id: 'is-open', elements: open.slice(0, 25).map(button) });
  if (rest.length > 0)
    blocks.push({ type: 'actions', block_id: 'is-more', elements: rest.slice(0, 25).map(button) });
  return blocks;
}

/** An uploaded (not shared) image shown inside a message with an `image` block. */
export interface BlockImage {
  /** Slack file id from files.completeUploadExternal. */
  fileId: string;
  altText: string;
}

/** Image blocks allow 2000 chars of alt text. */
const ALT_MAX = 2000;

/**
 * A result message: what the core said (query, credits), the grid when it is given as an uploaded
 * file (`slack_file`), and the buttons. Without `image` it is the text-and-buttons message used
 * when the grid had to be shared as a file instead.
 */
export function resultMessage(
  text: string,
  actions: readonly ReplyAction[],
  image?: BlockImage,
): RenderedMessage {
  const body = truncate(escapeSlackText(text), SECTION_MAX);
  const blocks: KnownBlock[] = [{ type: 'section', text: { type: 'mrkdwn', text: body } }];
  if (image) {
    blocks.push({
      type: 'image',
      block_id: 'is-grid',
      slack_file: { id: image.fileId },
      alt_text: truncate(image.altText, ALT_MAX),
    });
  }
  blocks.push(...actionBlocks(actions));
  return { text: truncate(escapeSlackText(text), FALLBACK_MAX), blocks };
}

/** A plain note (placeholder, notice, error). No blocks: the fallback text is the message. */
export function noteMessage(text: string): { text: string } {
  return { text: truncate(escapeSlackText(text), FALLBACK_MAX) };
}

/** Decorates a notice by level so warnings stand out without reading the words. */
export function noticeText(text: string, level: 'info' | 'warn' | 'error'): string {
  const icon = level === 'error' ? ':warning:' : level === 'warn' ? ':information_source:' : '';
  return icon ? `${icon} ${text}` : text;
}
