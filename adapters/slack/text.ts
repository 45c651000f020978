/**
 * Slack "mrkdwn" markup → plain words for the search core.
 *
 * Slack sends user text with control sequences (`<@U123>`, `<#C123|general>`, `<https://x|label>`,
 * `<!here>`) and HTML-escapes exactly three characters (`&amp;` `&lt;` `&gt;`). The CLIP tokenizer
 * must never see any of that, or "cats &amp; dogs" searches for "amp".
 * See https://docs.slack.dev/messaging/formatting-message-text#escaping
 */
import { normalizeQuery } from '../../src/clip/text-normalize.ts';

/** Removes Slack markup and unescapes entities; whitespace collapsed, trimmed (the core's cleaner). */
export function cleanSlackText(raw: string | undefined): string {
  return raw ? normalizeQuery(raw) : '';
}

/** Escapes the three characters Slack treats as markup, for text we put into mrkdwn or plain text. */
export function escapeSlackText(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** True when `text` mentions the user id (`<@U123>` or `<@U123|name>`). */
export function mentionsUser(text: string | undefined, userId: string | undefined): boolean {
  if (!text || !userId) return false;
  return text.includes(`<@${userId}>`) || text.includes(`<@${userId}|`);
}

/** Shortens text for one-line notes ("Searching for …"), on a character boundary. */
export function truncate(text: string, max: number): string {
  const chars = Array.from(text);
  return chars.length <= max ? text : `${chars.slice(0, max - 1).join('')}…`;
}
