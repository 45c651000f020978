/**
 * The one cleaning of query text. Platform markup (Slack mrkdwn, Discord mentions) is turned into
 * plain words by each adapter; this runs once where text enters the core (the conversation
 * engine's `handle`, the CLI's `search`), and everything after it (pipeline, encoder, reranker)
 * trusts the result.
 */

/** Longest query we keep: CLIP reads 77 tokens anyway, and rerank prompts stay small. */
export const MAX_QUERY_CHARS = 500;

/** A query after clean-up and length capping. */
export interface CleanQuery {
  text: string;
  /** The original was longer than the cap and was cut (at a word boundary when one is near). */
  truncated: boolean;
  /** True when there is at least one letter or digit (emoji-only and punctuation-only are not). */
  hasWords: boolean;
}

/**
 * Whitespace collapsed, control characters made spaces, format characters removed (zero-width
 * spaces, bidi overrides, BOM, the zero-width joiner), trimmed, and capped at `maxChars`.
 */
export function cleanQuery(raw: string | undefined, maxChars = MAX_QUERY_CHARS): CleanQuery {
  // Control characters (NUL, BEL, …) separate words like the whitespace they stand in for, so they
  // become spaces ("red\u0007cars" is two words); format characters (zero-width space, joiner, bidi
  // marks) are invisible inside words and go. Then whitespace collapses, once.
  let text = (raw ?? '')
    .replace(/\p{Cc}/gu, ' ')
    .replace(/\p{Cf}/gu, '')
    .replace(/\s+/g, ' ')
    .trim();
  let truncated = false;
  if (text.length > maxChars) {
    truncated = true;
    const cut = text.slice(0, maxChars);
    const space = cut.lastIndexOf(' ');
    // Cut at a word boundary unless that would throw away most of the text.
    text = (space > maxChars * 0.8 ? cut.slice(0, space) : cut).trim();
  }
  return { text, truncated, hasWords: hasWords(text) };
}

/** True when `text` has at least one letter or digit. */
export function hasWords(text: string): boolean {
  return /[\p{L}\p{N}]/u.test(text);
}
