/**
 * Discord markup → plain query text. Queries feed a CLIP tokenizer, so mentions, channel links and
 * emoji ids are noise: user/role/channel mentions are dropped, custom emoji keep their name.
 */

const USER_MENTION = /<@!?\d{5,25}>/g;
const ROLE_MENTION = /<@&\d{5,25}>/g;
const CHANNEL_MENTION = /<#\d{5,25}>/g;
/** `<:party_cat:123>` and animated `<a:party_cat:123>`. */
const CUSTOM_EMOJI = /<a?:([A-Za-z0-9_~-]{1,32}):\d{5,25}>/g;
/** Slash-command mentions `</imagesearch:123>` and timestamps `<t:1700000000:R>`. */
const COMMAND_MENTION = /<\/[^:>]{1,100}:\d{5,25}>/g;
const TIMESTAMP = /<t:-?\d{1,13}(?::[tTdDfFR])?>/g;
const EVERYONE = /@(everyone|here)\b/g;

/** Discord's limit on thread names. */
export const THREAD_NAME_MAX = 100;

/** Plain text of a Discord message: markup removed, whitespace collapsed. */
export function cleanDiscordText(content: string): string {
  return content
    .replace(CUSTOM_EMOJI, (_m, name: string) => ` ${name.replace(/_/g, ' ')} `)
    .replace(USER_MENTION, ' ')
    .replace(ROLE_MENTION, ' ')
    .replace(CHANNEL_MENTION, ' ')
    .replace(COMMAND_MENTION, ' ')
    .replace(TIMESTAMP, ' ')
    .replace(EVERYONE, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}

/** A thread name for a query: single line, at most {@link THREAD_NAME_MAX} characters, never empty. */
export function threadName(query: string | undefined, fallback = 'image search'): string {
  const line = (query ?? '').replace(/\s+/g, ' ').trim();
  if (!line) return fallback;
  const chars = [...line];
  if (chars.length <= THREAD_NAME_MAX) return line;
  return `${chars
    .slice(0, THREAD_NAME_MAX - 1)
    .join('')
    .trimEnd()}…`;
}
