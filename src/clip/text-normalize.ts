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
  // Control characters (but keep ordinary whitespace), zero-width and bidi controls.
  // biome-ignore lint/suspicious/noControlCharactersInRegex: stripping them is the point
  text = text.replace(
    /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]/g,
    '',
  );
  return text.replace(/\s+/g, ' ').trim();
}
