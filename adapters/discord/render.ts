/**
 * BotReply → Discord message payload: the grid as a real file attachment (multipart upload, never
 * a data URL), buttons in action rows, mentions disabled so query text can never ping anyone.
 */
import {
  ActionRowBuilder,
  AttachmentBuilder,
  type BaseMessageOptions,
  ButtonBuilder,
  ButtonStyle,
  type MessageMentionOptions,
} from 'discord.js';
import sharp from 'sharp';
import type { BotReply, ReplyAction } from '../../src/core/types.ts';
import { truncate } from '../kit/text.ts';

/** Discord's default upload limit per message for bots in a guild without boosts (10 MiB). */
export const DEFAULT_MAX_UPLOAD_BYTES = 10 * 1024 * 1024;
/** Discord's limits: 2000 characters per message, 5 buttons per row, 5 rows, 80-char labels. */
const CONTENT_MAX = 2000;
const BUTTONS_PER_ROW = 5;
const ROWS_MAX = 5;
const LABEL_MAX = 80;

/** Nobody is pinged by what the bot says, not even the user it replies to. */
export const NO_MENTIONS: MessageMentionOptions = { parse: [], repliedUser: false };

/** A rendered reply: the message payload plus whether the platform should show it only to the user. */
export interface RenderedReply {
  /** Always sets `content`, `files`, `components` and `allowedMentions`, so an edit replaces all of them. */
  payload: BaseMessageOptions & Required<Pick<BaseMessageOptions, 'content' | 'files' | 'components'>>;
  /** Notices the core marked ephemeral; only interactions can honour this. */
  ephemeral: boolean;
}

export interface RenderOptions {
  /** Upload limit for this message in bytes; bigger grids are re-encoded smaller. */
  maxUploadBytes?: number;
}

/** Renders a core reply as a Discord message. */
export async function renderReply(reply: BotReply, opts: RenderOptions = {}): Promise<RenderedReply> {
  const maxBytes = opts.maxUploadBytes ?? DEFAULT_MAX_UPLOAD_BYTES;
  switch (reply.kind) {
    case 'results': {
      const { grid, fileName } = reply.reply;
      const file = await fitUpload(grid, fileName, maxBytes);
      return {
        payload: {
          content: truncate(reply.text, CONTENT_MAX),
          files: file ? [file] : [],
          components: actionRows(reply.actions),
          allowedMentions: NO_MENTIONS,
        },
        ephemeral: false,
      };
    }
    case 'open': {
      const file = reply.image
        ? await fitUpload(reply.image.bytes, reply.image.fileName, maxBytes)
        : undefined;
      return {
        payload: {
          content: truncate(reply.text, CONTENT_MAX),
          files: file ? [file] : [],
          components: [],
          allowedMentions: NO_MENTIONS,
        },
        ephemeral: false,
      };
    }
    case 'notice':
      return { payload: textPayload(reply.text), ephemeral: reply.ephemeral === true };
  }
}

/** A text-only payload that also clears any attachment or buttons when used as an edit. */
export function textPayload(text: string): RenderedReply['payload'] {
  return { content: truncate(text, CONTENT_MAX), files: [], components: [], allowedMentions: NO_MENTIONS };
}

/**
 * Buttons grouped by what they do (open 1–4, more like 1–4, then the rest), five to a row and at
 * most five rows, because that is all Discord accepts in one message.
 */
export function actionRows(actions: readonly ReplyAction[]): ActionRowBuilder<ButtonBuilder>[] {
  const groups = new Map<string, ReplyAction[]>();
  for (const a of actions) {
    const key = a.action.type === 'open' || a.action.type === 'more-like' ? a.action.type : 'other';
    const group = groups.get(key) ?? [];
    group.push(a);
    groups.set(key, group);
  }
  const rows: ActionRowBuilder<ButtonBuilder>[] = [];
  for (const group of groups.values()) {
    for (let i = 0; i < group.length && rows.length < ROWS_MAX; i += BUTTONS_PER_ROW) {
      const buttons = group.slice(i, i + BUTTONS_PER_ROW).map((a) =>
        new ButtonBuilder()
          .setCustomId(a.id)
          .setLabel(truncate(a.label, LABEL_MAX))
          .setStyle(a.style === 'primary' ? ButtonStyle.Primary : ButtonStyle.Secondary),
      );
      rows.push(new ActionRowBuilder<ButtonBuilder>().addComponents(buttons));
    }
  }
  return rows;
}

/**
 * The image as an attachment no bigger than `maxBytes`. Grids are normally a few hundred KB; a huge
 * one is stepped down (JPEG quality, then size) rather than rejected by Discord with a 413.
 * Returns undefined when even the smallest step does not fit (the text still goes out).
 */
export async function fitUpload(
  bytes: Buffer,
  fileName: string,
  maxBytes: number,
): Promise<AttachmentBuilder | undefined> {
  if (bytes.length <= maxBytes) return new AttachmentBuilder(bytes, { name: fileName });
  const base = fileName.replace(/\.[a-z0-9]+$/i, '') || 'imagesearch';
  const meta = await sharp(bytes).metadata();
  const width = meta.width ?? 1024;
  for (const [scale, quality] of STEPS) {
    const out = await sharp(bytes)
      .resize({ width: Math.max(64, Math.round(width * scale)) })
      .jpeg({ quality, mozjpeg: true })
      .toBuffer();
    if (out.length <= maxBytes) return new AttachmentBuilder(out, { name: `${base}.jpg` });
  }
  return undefined;
}

/** [scale, JPEG quality] tried in order until the file fits. */
const STEPS: ReadonlyArray<readonly [number, number]> = [
  [1, 85],
  [1, 70],
  [0.75, 70],
  [0.5, 60],
  [0.25, 50],
];
