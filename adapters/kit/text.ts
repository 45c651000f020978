/** Small text helpers every chat platform needs. */

/** Cuts `text` to at most `max` characters (code points), marking the cut with "…". */
export function truncate(text: string, max: number): string {
  const chars = Array.from(text);
  return chars.length <= max ? text : `${chars.slice(0, max - 1).join('')}…`;
}

/**
 * True when `text` mentions the user: `<@ID>` (Slack and Discord), Slack's `<@ID|name>` and
 * Discord's legacy nickname form `<@!ID>`.
 */
export function mentionsUser(text: string | undefined, userId: string | undefined): boolean {
  if (!text || !userId) return false;
  return text.includes(`<@${userId}>`) || text.includes(`<@${userId}|`) || text.includes(`<@!${userId}>`);
}

/**
 * The help every platform shows, with its own example (`/imagesearch cats on a sofa`): the core's
 * words, handed to adapters through the kit so none reaches into the conversation layer.
 */
export { helpText } from '../../src/conversation/messages.ts';
