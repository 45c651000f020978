/**
 * Slack "mrkdwn" markup → plain words for the search core.
 *
 * Slack sends user text with control sequences (`<@U123>`, `<#C123|general>`, `<https://x|label>`,
 * `<!here>`) and HTML-escapes exactly three characters (`&amp;` `&lt;` `&gt;`). The CLIP tokenizer
 * must never see any of that, or "cats &amp; dogs" searches for "amp".
 * See https://docs.slack.dev/messaging/formatting-message-text#escaping
 */

/** `<…>` control sequences; their content never contains a raw `<` or `>` (those arrive escaped). */
const CONTROL = /<([^<>]*)>/g;

/** Removes Slack markup and unescapes entities. Whitespace is collapsed; the result is trimmed. */
export function cleanSlackText(raw: string | undefined): string {
  if (!raw) return '';
  const replaced = raw.replace(CONTROL, (_match, inner: string) => {
    const bar = inner.indexOf('|');
    const target = bar === -1 ? inner : inner.slice(0, bar);
    const label = bar === -1 ? '' : inner.slice(bar + 1);
    // Mentions of users, channels, user groups and specials (@here, dates) carry no search meaning.
    if (target.startsWith('@') || target.startsWith('#') || target.startsWith('!')) return ' ';
    // Links: the label is what the user typed; a bare link stays as the URL.
    return label || target;
  });
  // Unescape last so an escaped `&lt;@U1&gt;` typed by a user stays text, and `&amp;lt;` → `&lt;` once.
  return replaced
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&')
    .replace(/\s+/g, ' ')
    .trim();
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
