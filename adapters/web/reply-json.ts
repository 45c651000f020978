import type { BotReply, SearchAction } from '../../src/core/types.ts';
import { firstHttpLink } from '../../src/util/links.ts';

/** A grid or photo the page will load by URL. */
export interface ServedImage {
  bytes: Buffer;
  mime: string;
}

/** Keeps an image for the page and returns the id it is served under (`/api/image/<id>`). */
export type KeepImage = (image: ServedImage) => Promise<string>;

/** What the browser receives for one reply. Images are URLs into the image cache, never data: URLs. */
export type WebReply =
  | {
      kind: 'results';
      text: string;
      query: string;
      gridUrl: string;
      picks: Array<{ n: number; id: string; credit?: string; link?: string }>;
      actions: Array<{ id: string; label: string; type: WebActionType; primary: boolean }>;
      rankedBy: string;
    }
  | { kind: 'open'; text: string; n: number; id: string; imageUrl?: string; link?: string }
  | { kind: 'notice'; text: string; level: 'info' | 'warn' | 'error' };

/**
 * The action type as the page knows it: "4 more" (the core's `next`) stays `reroll` on this wire,
 * as its button id does, so a page loaded before the rename keeps working.
 */
export type WebActionType = Exclude<SearchAction['type'], 'next'> | 'reroll';
const webActionType = (type: SearchAction['type']): WebActionType => (type === 'next' ? 'reroll' : type);

const imageUrl = (id: string) => `/api/image/${id}`;

export async function toWebReply(reply: BotReply, keep: KeepImage): Promise<WebReply> {
  switch (reply.kind) {
    case 'results': {
      const r = reply.reply;
      return {
        kind: 'results',
        text: reply.text,
        query: r.query,
        gridUrl: imageUrl(await keep({ bytes: r.grid, mime: r.mime })),
        picks: r.picks.map((p) => {
          const link = firstHttpLink(p.entry.pageUrl, p.entry.url);
          return {
            n: p.n,
            id: p.id,
            ...(p.entry.credit ? { credit: p.entry.credit.name } : {}),
            ...(link ? { link } : {}),
          };
        }),
        actions: reply.actions.map((a) => ({
          id: a.id,
          label: a.label,
          type: webActionType(a.action.type),
          primary: a.style === 'primary',
        })),
        rankedBy: r.rankedBy,
      };
    }
    case 'open': {
      const link = firstHttpLink(reply.pick.entry.pageUrl, reply.pick.entry.url);
      return {
        kind: 'open',
        text: reply.text,
        n: reply.pick.n,
        id: reply.pick.id,
        ...(reply.image
          ? { imageUrl: imageUrl(await keep({ bytes: reply.image.bytes, mime: reply.image.mime })) }
          : {}),
        ...(link ? { link } : {}),
      };
    }
    case 'notice':
      return { kind: 'notice', text: reply.text, level: reply.level };
  }
}
