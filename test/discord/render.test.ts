/**
 * Discord rendering (adapters/discord/render.ts): button rows, attachment names and sizes, and
 * the payload of each reply kind.
 */
import { type AttachmentBuilder, ButtonStyle } from 'discord.js';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { actionRows, fitUpload, NO_MENTIONS, renderReply } from '../../adapters/discord/render.ts';
import { resultActions } from '../../src/core/actions.ts';
import type { Pick, ReplyAction, SearchReply } from '../../src/core/types.ts';

type ButtonJson = { custom_id: string; label: string; style: number };
const rowsJson = (actions: ReplyAction[]) =>
  actionRows(actions).map((r) => r.toJSON().components as unknown as ButtonJson[]);

const open = (n: number): ReplyAction => ({
  id: `is:open:${n}`,
  label: `Open ${n}`,
  action: { type: 'open', n },
});
const more = (n: number): ReplyAction => ({
  id: `is:more:${n}`,
  label: `More like ${n}`,
  action: { type: 'more-like', n },
});

/** Random noise: compresses badly, so its PNG is much bigger than any JPEG of it. */
const noise = (width: number, height: number) =>
  sharp({
    create: {
      width,
      height,
      channels: 3,
      background: '#888',
      noise: { type: 'gaussian', mean: 128, sigma: 60 },
    },
  })
    .png()
    .toBuffer();

describe('actionRows', () => {
  it('groups open, more-like and the rest into their own rows; only primary actions are Primary', () => {
    expect(rowsJson(resultActions(2))).toEqual([
      [
        { type: 2, custom_id: 'is:open:1', label: 'Open 1', style: ButtonStyle.Secondary },
        { type: 2, custom_id: 'is:open:2', label: 'Open 2', style: ButtonStyle.Secondary },
      ],
      [
        { type: 2, custom_id: 'is:more:1', label: 'More like 1', style: ButtonStyle.Secondary },
        { type: 2, custom_id: 'is:more:2', label: 'More like 2', style: ButtonStyle.Secondary },
      ],
      [
        { type: 2, custom_id: 'is:reroll', label: '4 more', style: ButtonStyle.Primary },
        { type: 2, custom_id: 'is:restart', label: 'Start over', style: ButtonStyle.Secondary },
      ],
    ]);
  });

  it('a "default" style is Secondary', () => {
    const [[button]] = rowsJson([{ ...open(1), style: 'default' }]) as [[ButtonJson]];
    expect(button.style).toBe(ButtonStyle.Secondary);
  });

  it('fills rows five at a time without an empty row after a full one', () => {
    expect(rowsJson([1, 2, 3, 4, 5].map(open)).map((r) => r.length)).toEqual([5]);
    const seven = rowsJson([1, 2, 3, 4, 5, 6, 7].map(open));
    expect(seven.map((r) => r.map((b) => b.custom_id))).toEqual([
      ['is:open:1', 'is:open:2', 'is:open:3', 'is:open:4', 'is:open:5'],
      ['is:open:6', 'is:open:7'],
    ]);
  });

  it('stops at Discord’s five rows', () => {
    const opens = Array.from({ length: 23 }, (_, i) => open(i + 1));
    const mores = Array.from({ length: 4 }, (_, i) => more(i + 1));
    const rows = rowsJson([...opens, ...mores]);
    expect(rows.map((r) => r.length)).toEqual([5, 5, 5, 5, 3]);
    expect(rows.flat().map((b) => b.custom_id)).not.toContain('is:more:1');
  });

  it('cuts labels to 80 characters', () => {
    const [[button]] = rowsJson([{ ...open(1), label: 'l'.repeat(90) }]) as [[ButtonJson]];
    expect(button.label).toBe(`${'l'.repeat(79)}…`);
  });
});

describe('fitUpload', () => {
  let png: Buffer;
  beforeAll(async () => {
    png = await noise(300, 200);
  });

  it('sends an image that fits as it is, under its own name', async () => {
    const a = await fitUpload(png, 'grid.png', png.length);
    expect(a?.name).toBe('grid.png');
    expect(a?.attachment).toBe(png);
  });

  it('re-encodes a too-large image as mozjpeg at quality 85 and full width first', async () => {
    const expected = await sharp(png).resize({ width: 300 }).jpeg({ quality: 85, mozjpeg: true }).toBuffer();
    expect(expected.length).toBeLessThan(png.length);
    const a = await fitUpload(png, 'my.photo.v2.png', png.length - 1);
    expect(a?.name).toBe('my.photo.v2.jpg');
    expect(Buffer.compare(a!.attachment as Buffer, expected)).toBe(0);
    expect(await sharp(a!.attachment as Buffer).metadata()).toMatchObject({ format: 'jpeg', width: 300 });
  });

  it('steps down to 3/4 width when that is what fits, up to the exact byte limit', async () => {
    const q70 = await sharp(png).resize({ width: 300 }).jpeg({ quality: 70, mozjpeg: true }).toBuffer();
    const threeQuarters = await sharp(png)
      .resize({ width: 225 })
      .jpeg({ quality: 70, mozjpeg: true })
      .toBuffer();
    expect(threeQuarters.length).toBeLessThan(q70.length);
    const a = await fitUpload(png, 'grid.png', threeQuarters.length);
    expect(a?.name).toBe('grid.jpg');
    expect(Buffer.compare(a!.attachment as Buffer, threeQuarters)).toBe(0);
    expect((await sharp(a!.attachment as Buffer).metadata()).width).toBe(225);
  });

  it('names a file that is only an extension "imagesearch.jpg"', async () => {
    const a = await fitUpload(png, '.png', png.length - 1);
    expect(a?.name).toBe('imagesearch.jpg');
  });
});

describe('renderReply', () => {
  const pick: Pick = { id: 'p1', n: 1, score: 0.3, entry: { id: 'p1' } };

  it('a results reply whose grid cannot fit still sends its text and buttons, without a file', async () => {
    const grid = await noise(256, 256);
    const reply: SearchReply = {
      query: 'cats',
      picks: [pick],
      grid,
      mime: 'image/png',
      fileName: 'grid.png',
      caption: 'cats',
      rankedBy: 'clip',
      timingsMs: {},
    };
    const r = await renderReply(
      { kind: 'results', text: 'cats', reply, actions: resultActions(1) },
      { maxUploadBytes: 100 },
    );
    expect(r.ephemeral).toBe(false);
    expect(r.payload.content).toBe('cats');
    expect(r.payload.files).toEqual([]);
    expect(r.payload.components).toHaveLength(3);
    expect(r.payload.allowedMentions).toEqual(NO_MENTIONS);
  });

  it('an open reply whose photo cannot fit is text only', async () => {
    const bytes = await noise(256, 256);
    const r = await renderReply(
      { kind: 'open', text: 'Photo 1', pick, image: { bytes, mime: 'image/png', fileName: 'p1.png' } },
      { maxUploadBytes: 100 },
    );
    expect(r).toEqual({
      payload: { content: 'Photo 1', files: [], components: [], allowedMentions: NO_MENTIONS },
      ephemeral: false,
    });
  });

  it('a notice is ephemeral only when the core says so', async () => {
    for (const ephemeral of [undefined, false]) {
      const r = await renderReply({
        kind: 'notice',
        level: 'info',
        text: 'hi',
        ...(ephemeral === undefined ? {} : { ephemeral }),
      });
      expect(r.ephemeral).toBe(false);
    }
  });
});

describe('renderReply with files that fit', () => {
  it('attaches the grid of a results reply and the photo of an open reply', async () => {
    const grid = Buffer.from('grid');
    const pick: Pick = { id: 'p1', n: 1, score: 0.3, entry: { id: 'p1' } };
    const reply: SearchReply = {
      query: 'cats',
      picks: [pick],
      grid,
      mime: 'image/jpeg',
      fileName: 'imagesearch-cats.jpg',
      caption: 'cats',
      rankedBy: 'clip',
      timingsMs: {},
    };
    const results = await renderReply({ kind: 'results', text: 'cats', reply, actions: [] });
    expect(
      results.payload.files.map((f) => [(f as AttachmentBuilder).name, (f as AttachmentBuilder).attachment]),
    ).toEqual([['imagesearch-cats.jpg', grid]]);
    const photo = Buffer.from('photo');
    const open = await renderReply({
      kind: 'open',
      text: 'Photo 1',
      pick,
      image: { bytes: photo, mime: 'image/jpeg', fileName: 'p1.jpg' },
    });
    expect(open.payload.content).toBe('Photo 1');
    expect(open.payload.components).toEqual([]);
    expect(
      open.payload.files.map((f) => [(f as AttachmentBuilder).name, (f as AttachmentBuilder).attachment]),
    ).toEqual([['p1.jpg', photo]]);
  });
});
