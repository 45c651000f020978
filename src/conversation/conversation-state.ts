import { z } from 'zod';
import { cleanQuery } from '../util/query-text.ts';
import { mergeQuery } from './parse-message.ts';

/** Shown ids kept per conversation: about 100 grids of "4 more" before the oldest may come back. */
export const MAX_SHOWN_IDS = 400;

/**
 * What the bot remembers about one conversation (thread), stored under `conv:<conversationId>`
 * as plain JSON so every keyv backend holds it. Vectors are plain number arrays for that reason.
 * Read back through {@link parseConversationState}: anything unreadable counts as "no conversation".
 */
const conversationStateSchema = z.object({
  v: z.literal(1),
  /** Who started it (platform-prefixed). Anyone in the thread may steer it; the owner is for the logs. */
  ownerId: z.string(),
  /** The query that started it; '' after "start over" (the next message starts a fresh search). */
  original: z.string(),
  /** Text refinements in order (negative terms are kept apart, in `negatives`). */
  refinements: z.array(z.string()),
  /** The effective positive query text: what CLIP encodes (English when the user wrote another language). */
  queryText: z.string(),
  /**
   * Set when the user wrote in another language (ISO 639-1 code, or 'other' when only the script
   * told): `queryText` is then the English rewrite and captions show the user's own words.
   */
  language: z.string().optional(),
  /** Negative terms subtracted from the query vector ("without X"). */
  negatives: z.array(z.string()),
  /** Image side of the query (uploaded image, or the pick of "more like N"), L2-normalised. */
  anchor: z.array(z.number()).optional(),
  /** Where `anchor` came from, for the caption: 'your image' or 'more like #2'. */
  anchorLabel: z.string().optional(),
  /** The effective query vector used for the last search. */
  vector: z.array(z.number()).optional(),
  /** Every id shown in this conversation (newest last, capped), excluded from later searches. */
  shownIds: z.array(z.string()),
  /** The picks of the last grid, in tile order (tile n = index n − 1). */
  lastPicks: z.array(z.object({ id: z.string(), score: z.number() })),
  createdAt: z.number(),
  updatedAt: z.number(),
});

export type ConversationState = z.infer<typeof conversationStateSchema>;

export function conversationKey(conversationId: string): string {
  return `conv:${conversationId}`;
}

export function parseConversationState(value: unknown): ConversationState | undefined {
  const parsed = conversationStateSchema.safeParse(value);
  if (!parsed.success) return undefined;
  const { anchor, anchorLabel, vector, language, ...rest } = parsed.data;
  // exactOptionalPropertyTypes: leave absent keys absent rather than present-and-undefined.
  return {
    ...rest,
    ...(language ? { language } : {}),
    ...(anchor ? { anchor } : {}),
    ...(anchorLabel ? { anchorLabel } : {}),
    ...(vector ? { vector } : {}),
  };
}

/** A fresh conversation. */
export function newConversation(ownerId: string, now: number): ConversationState {
  return {
    v: 1,
    ownerId,
    original: '',
    refinements: [],
    queryText: '',
    negatives: [],
    shownIds: [],
    lastPicks: [],
    createdAt: now,
    updatedAt: now,
  };
}

/** True when the conversation has no search to refine (new, or after "start over"). */
export function isBlank(state: ConversationState): boolean {
  return state.original === '' && state.queryText === '' && state.anchor === undefined;
}

/**
 * What the user is shown and the reranker reads: "cats on a sofa (more like #2), without people".
 * In the user's own words when they wrote another language (CLIP reads the English `queryText`).
 */
export function displayQuery(state: ConversationState): string {
  const words = state.language
    ? cleanQuery(mergeQuery(state.original, state.refinements)).text
    : state.queryText;
  let text = words || (state.anchorLabel === 'your image' ? 'images like yours' : 'similar images');
  if (state.anchorLabel && words) text += ` (${state.anchorLabel})`;
  if (state.negatives.length > 0) text += `, without ${state.negatives.join(', ')}`;
  return text;
}
