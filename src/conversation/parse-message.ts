/**
 * Platform-agnostic reading of what a user typed. Pure functions, no I/O: the engine decides what
 * each command means for the conversation at hand (see ./engine.ts and docs in ./README.md).
 */

/** What a message asks for. `n` is the 1-based tile number as shown on the grid. */
export type ParsedMessage =
  | { type: 'help' }
  /** "start over", "reset", "new" (alone): forget the thread's search. */
  | { type: 'start-over' }
  /** "new: …": a fresh search in the same thread. */
  | { type: 'new'; text: string; negatives: string[] }
  /** "N", "#N", "open N": that image full size. */
  | { type: 'open'; n: number }
  /** "more like N", "similar to N". */
  | { type: 'more-like'; n: number }
  /** "more", "4 more", "reroll", "next": the next results not yet shown. */
  | { type: 'next' }
  /** Anything else: a query or refinement, with its "without X" / "no X" / "-X" parts split off. */
  | { type: 'refine'; text: string; negatives: string[] };

const HELP = /^[/!]?(?:help|\?|commands|what can you do\??|how does this work\??)$/i;
const START_OVER = /^(?:start over|start again|restart|reset|clear|new|new search)[.!]*$/i;
const NEW_PREFIX = /^(?:new|new search|search|start over|restart)\s*:\s*(.*)$/i;
const OPEN =
  /^(?:(?:open|show|view|see|zoom|full(?:\s+size)?)\s+)?(?:number\s+|no\.?\s*)?#?\s*(\d{1,2})[.!]*$/i;
const MORE_LIKE =
  /^(?:(?:show|find|get|give me)\s+)?(?:more\s+)?(?:like|similar(?:\s+to)?)\s+(?:number\s+|no\.?\s*)?#?\s*(\d{1,2})[.!]*$/i;
const NEXT = [
  /^(?:(?:show|give me|get|next)\s+)?(?:(?:\d{1,2}|four|a few|some)\s+)?more(?:\s+(?:please|pls|results|images|photos|pictures|of (?:these|this|them)))?[.!]*$/i,
  /^(?:reroll|re-roll|again|next|next (?:4|four)|shuffle|another|others|other ones|different ones)[.!]*$/i,
];

/**
 * Parses one cleaned message. Commands are whole-message matches, so "more cats" or "2 dogs" are
 * ordinary queries; only a bare number ("2", "#2", "open 2") opens a result.
 */
export function parseMessage(text: string): ParsedMessage {
  const t = text.trim();
  if (HELP.test(t)) return { type: 'help' };
  const fresh = NEW_PREFIX.exec(t);
  if (fresh) {
    // `\s*` before the group takes every leading space, and `t` has no trailing ones.
    const rest = fresh[1];
    if (!rest) return { type: 'start-over' };
    return { type: 'new', ...splitNegatives(rest) };
  }
  if (START_OVER.test(t)) return { type: 'start-over' };
  const like = MORE_LIKE.exec(t);
  if (like) return { type: 'more-like', n: Number(like[1]) };
  const open = OPEN.exec(t);
  if (open) return { type: 'open', n: Number(open[1]) };
  if (NEXT.some((re) => re.test(t))) return { type: 'next' };
  return { type: 'refine', ...splitNegatives(t) };
}

// "-X" as its own word (so "t-shirt" and "1-2" stay whole); X runs to the next space.
const DASH_NEGATIVE = /(^|\s)-(\p{L}[\p{L}\p{N}'_-]*)/gu;
// "without X" / "no X" / "not X" / "minus X" / "except X" / "excluding X", X running to the next
// comma, semicolon or full stop. A leading "but"/"and"/"with" is swallowed ("but no cars").
const PHRASE_NEGATIVE =
  /(?:^|[\s,;])(?:(?:but|and|with)\s+)?(?:without|no|not|minus|except|excluding)\s+([^,;.]+)/giu;

/**
 * Splits "a beach at dusk without people, -boats" into the positive text ("a beach at dusk") and the
 * negative terms (["people", "boats"]). Each comma-separated clause is one negative term:
 * "without cats and dogs" subtracts "cats and dogs" as one phrase.
 */
export function splitNegatives(text: string): { text: string; negatives: string[] } {
  // Both patterns record where they matched, so negatives come out in the order they were written.
  const found: Array<{ at: number; term: string }> = [];
  // Length-preserving blanking keeps the second pass's indices comparable with the first's.
  let rest = text.replace(DASH_NEGATIVE, (m: string, lead: string, term: string, at: number) => {
    found.push({ at, term });
    return `${lead}${' '.repeat(m.length - lead.length)}`;
  });
  rest = rest.replace(PHRASE_NEGATIVE, (m: string, term: string, at: number) => {
    found.push({ at, term });
    return ' '.repeat(m.length);
  });
  const negatives: string[] = [];
  for (const { term } of found.sort((a, b) => a.at - b.at)) {
    const clean = term
      .trim()
      .replace(/^(?:any|the|a|an)\s+/i, '')
      .replace(/[\s!?]+$/, '')
      .toLowerCase();
    if (/[\p{L}\p{N}]/u.test(clean) && !negatives.includes(clean)) negatives.push(clean);
  }
  const positive = rest
    .replace(/\s+([,;.])/g, '$1')
    .replace(/[,;\s]+$/g, '')
    .replace(/^[,;.\s]+/g, '')
    .replace(/\s+(?:with|and|but|or)$/i, '')
    .replace(/\s+/g, ' ');
  return { text: positive, negatives };
}

// Words that make sense in a chat reply but not inside a standalone query.
const FILLER =
  /^(?:(?:only|just|but|and|now|also|please|ok|okay|make it|make them|show me|i want|i'd like)\s+)+/i;

/**
 * The deterministic merge used when no query rewriter is configured (or it misses its deadline):
 * the original query followed by each refinement, filler words dropped, duplicates skipped.
 * "cats on a sofa" + "only black and white" → "cats on a sofa, black and white".
 */
export function mergeQuery(original: string, refinements: readonly string[]): string {
  const parts: string[] = [];
  const seen = new Set<string>();
  for (const raw of [original, ...refinements]) {
    const part = raw
      .replace(FILLER, '')
      .replace(/[\s,;.]+$/, '')
      .trim();
    const key = part.toLowerCase();
    if (!part || seen.has(key)) continue;
    seen.add(key);
    parts.push(part);
  }
  return parts.join(', ');
}
