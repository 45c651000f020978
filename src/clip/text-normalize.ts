/**
 * Platform-neutral clean-up of a query before tokenising: Slack-style escapes and markup (which
 * also turn up when people paste between tools), control characters, runs of whitespace.
 * Adapters strip their own platform's markup first; this is the last line of defence.
 */
const ENTITIES: Record<string, string> = {
  '&amp;': '&',
  '&lt;': '<',
  '&gt;': '>',
  '&quot;': '"',
  '&#39;': "'",
};

export function normalizeQuery(raw: string): string {
  let text = raw
    // <@U123>, <@U123|name>, <#C123|name>, <!here>, <!subteam^S1|@team>: mentions carry no meaning.
    .replace(/<[@#!][^>\s]*>/g, ' ')
    // <https://x|label> → label, <https://x> → https://x
    .replace(/<((?:https?|mailto):[^>|\s]+)\|([^>]*)>/g, '$2')
    .replace(/<((?:https?|mailto):[^>|\s]+)>/g, '$1')
    .replace(/&(amp|lt|gt|quot|#39);/g, (m) => ENTITIES[m] ?? m);
  // Whitespace first (so tabs/newlines become spaces), then control and format characters
  // (zero-width, bidi overrides, BOM) — but keep the zero-width joiner that builds emoji.
  text = text.replace(/\s+/g, ' ').replace(/(?!\u200d)[\p{Cc}\p{Cf}]/gu, '');
  return text.replace(/\s+/g, ' ').trim();
}
