/**
 * Slack "mrkdwn" markup → plain words for the search core.
 *
 * Slack sends user text with control sequences (`<@U123>`, `<#C123|general>`, `<https://x|label>`,
 * `<!here>`) and HTML-escapes exactly three characters (`&amp;` `&lt;` `&gt;`). The CLIP tokenizer
 * must never see any of that, or "cats &amp; dogs" searches for "amp". The same sequences also turn
 * up when people paste between tools. The core cleans and caps the plain text once more on entry
 * (src/util/query-text.ts); this only undoes Slack's markup.
 * See https://docs.slack.dev/messaging/formatting-message-text#escaping
 */

const ENTITIES: Record<string, string> = {
  '&amp;': '&',
  '&lt;': '<',
  '&gt;': '>',
  '&quot;': '"',
  '&#39;': "'",
};

/** `<…>` control sequences as Slack sends them; their content never holds a raw `<` or `>`. */
const CONTROL = /<([^<>]*)>/g;

/** Removes Slack markup and unescapes entities; whitespace collapsed, trimmed. */
export function cleanSlackText(raw: string | undefined): string {
  if (!raw) return '';
  return (
    raw
      .replace(CONTROL, (match, inner: string) => {
        const bar = inner.indexOf('|');
        const target = bar === -1 ? inner : inner.slice(0, bar);
        const label = bar === -1 ? '' : inner.slice(bar + 1);
        // <@U123>, <#C123|general>, <!here>, <!subteam^S1|@team>: mentions carry no search meaning.
        if (/^[@#!]/.test(target)) return ' ';
        // <https://x|label> → label (what the user typed), <https://x> → the URL.
        if (/^[a-z][\w+.-]*:/i.test(target)) return label || target;
        // Anything else is a user's own angle brackets: keep them.
        return match;
      })
      // Unescape last, so an escaped "&lt;@U1&gt;" the user typed stays text; one pass, so "&amp;lt;" → "&lt;".
      .replace(/&(amp|lt|gt|quot|#39);/g, (m) => ENTITIES[m] ?? m)
      .replace(/\s+/g, ' ')
      .trim()
  );
}

/** Escapes the three characters Slack treats as markup, for text we put into mrkdwn or plain text. */
export function escapeSlackText(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
