/**
 * Block Kit rendering (adapters/slack/blocks.ts): the exact blocks Slack receives for result
 * buttons, the grid image and notices.
 */
import { describe, expect, it } from 'vitest';
import { actionBlocks, noteMessage, noticeText, resultMessage } from '../../adapters/slack/blocks.ts';
import { resultActions } from '../../src/core/actions.ts';
import type { ReplyAction } from '../../src/core/types.ts';

const open = (n: number): ReplyAction => ({
  id: `is:open:${n}`,
  label: `Open ${n}`,
  action: { type: 'open', n },
});
const reroll: ReplyAction = {
  id: 'is:reroll',
  label: '4 more',
  action: { type: 'next' },
  style: 'primary',
};
const restart: ReplyAction = { id: 'is:restart', label: 'Start over', action: { type: 'start-over' } };

/** A button as Block Kit's reference spells it: the action id is also its value. */
const button = (id: string, text: string, style?: 'primary') => ({
  type: 'button',
  action_id: id,
  value: id,
  text: { type: 'plain_text', text, emoji: true },
  ...(style ? { style } : {}),
});

describe('actionBlocks', () => {
  it('puts "Open n" on the first row and the rest on the second; only "4 more" is primary', () => {
    expect(actionBlocks(resultActions(2))).toEqual([
      {
        type: 'actions',
        block_id: 'is-open',
        elements: [button('is:open:1', 'Open 1'), button('is:open:2', 'Open 2')],
      },
      {
        type: 'actions',
        block_id: 'is-more',
        elements: [
          button('is:more:1', 'More like 1'),
          button('is:more:2', 'More like 2'),
          button('is:reroll', '4 more', 'primary'),
          button('is:restart', 'Start over'),
        ],
      },
    ]);
  });

  it('a "default" style is not sent as a style at all', () => {
    const [block] = actionBlocks([{ ...restart, style: 'default' }]);
    expect(block).toEqual({
      type: 'actions',
      block_id: 'is-more',
      elements: [button('is:restart', 'Start over')],
    });
  });

  it('leaves out a row that would have no buttons', () => {
    expect(actionBlocks([])).toEqual([]);
    expect(actionBlocks([reroll, restart]).map((b) => b.block_id)).toEqual(['is-more']);
    expect(actionBlocks([open(1), open(2)]).map((b) => b.block_id)).toEqual(['is-open']);
  });

  it('keeps each row within Slack’s 25 elements per actions block', () => {
    const opens = Array.from({ length: 30 }, (_, i) => open(i + 1));
    const others = Array.from({ length: 27 }, (_, i) => ({ ...restart, id: `is:x:${i}` }));
    const blocks = actionBlocks([...opens, ...others]) as {
      block_id: string;
      elements: { action_id: string }[];
    }[];
    expect(blocks.map((b) => [b.block_id, b.elements.length])).toEqual([
      ['is-open', 25],
      ['is-more', 25],
    ]);
    expect(blocks[0]!.elements.at(-1)!.action_id).toBe('is:open:25');
    expect(blocks[1]!.elements.at(-1)!.action_id).toBe('is:x:24');
  });

  it('cuts button labels to Slack’s 75 characters', () => {
    const [block] = actionBlocks([{ ...restart, label: 'b'.repeat(80) }]) as {
      elements: { text: { text: string } }[];
    }[];
    expect(block!.elements[0]!.text.text).toBe(`${'b'.repeat(74)}…`);
  });
});

describe('resultMessage', () => {
  it('renders text, the uploaded grid as an image block, then the buttons', () => {
    const msg = resultMessage('cats & dogs', [restart], { fileId: 'F0001', altText: 'Photo for “cats”' });
    expect(msg).toEqual({
      text: 'cats &amp; dogs',
      blocks: [
        { type: 'section', text: { type: 'mrkdwn', text: 'cats &amp; dogs' } },
        {
          type: 'image',
          block_id: 'is-grid',
          slack_file: { id: 'F0001' },
          alt_text: 'Photo for “cats”',
        },
        {
          type: 'actions',
          block_id: 'is-more',
          elements: [button('is:restart', 'Start over')],
        },
      ],
    });
  });

  it('without an image it is text and buttons only; long text is cut for the section and the fallback', () => {
    const msg = resultMessage('x'.repeat(3500), []);
    expect(msg.blocks).toEqual([{ type: 'section', text: { type: 'mrkdwn', text: `${'x'.repeat(2899)}…` } }]);
    expect(msg.text).toBe(`${'x'.repeat(2999)}…`);
  });

  it('cuts the image alt text to 2000 characters', () => {
    const msg = resultMessage('q', [], { fileId: 'F1', altText: 'a'.repeat(2100) });
    expect(msg.blocks[1]).toEqual({
      type: 'image',
      block_id: 'is-grid',
      slack_file: { id: 'F1' },
      alt_text: `${'a'.repeat(1999)}…`,
    });
  });
});

describe('notes and notices', () => {
  it('a note is escaped fallback text without blocks', () => {
    expect(noteMessage('a <b> & c')).toEqual({ text: 'a &lt;b&gt; &amp; c' });
  });

  it('marks errors and warnings with an icon; info stays plain', () => {
    expect(noticeText('No luck.', 'error')).toBe(':warning: No luck.');
    expect(noticeText('Slow down.', 'warn')).toBe(':information_source: Slow down.');
    expect(noticeText('Done.', 'info')).toBe('Done.');
  });
});
