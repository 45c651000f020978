/**
 * Clean-up of a query before tokenising: Slack's escapes and `<…>` markup (the Slack adapter's
 * cleaner is this function; the same sequences also turn up when people paste between tools),
 * control characters, runs of whitespace. See
 * https://docs.slack.dev/messaging/formatting-message-text#escaping
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

export function normalizeQuery(raw: string): string {
  let text = raw
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
    .replace(/&(amp|lt|gt|quot|#39);/g, (m) => ENTITIES[m] ?? m);
  // Whitespace first (so tabs/newlines become spaces), then control and format characters
  // (zero-width, bidi overrides, BOM) — but keep the zero-width joiner that builds emoji.
  text = text.replace(/\s+/g, ' ').replace(/(?!\u200d)[\p{Cc}\p{Cf}]/gu, '');
  return text.replace(/\s+/g, ' ').trim();
}
