/** Every sentence the conversation engine says to users, in one place: short and friendly. */

/**
 * The one help text, for every platform; `example` shows how to ask there (a slash command, a
 * mention, or just the words).
 */
export function helpText(example = '*cats on a sofa*'): string {
  return [
    `Tell me what to look for, e.g. ${example}. I answer with 4 numbered photos.`,
    'Then, in the same thread:',
    '• *2* or *open 2* — see photo 2 full size, with credit',
    '• *more like 2* — find photos like number 2',
    '• *4 more* — the next 4 I have not shown yet',
    '• *only black and white* — anything else refines the search',
    '• *without people* / *no people* / *-people* — leave something out',
    '• *new: dogs on a beach* — start over in the same thread',
    'You can also send a photo to find similar ones.',
  ].join('\n');
}

export const MSG = {
  empty: 'Tell me what to look for — for example *a red bicycle in the rain*. Say *help* for more.',
  emojiOnly: 'I search with words — try describing the picture, e.g. *a sunny beach with palm trees*.',
  truncated: (max: number) => `Your message was long, so I used the first ${max} characters.`,
  expired: 'That search has expired — start a new one with *new: your words*.',
  noSearchYet: 'There is no search here yet — tell me what to look for, e.g. *cats on a sofa*.',
  noMemory:
    "I can't reach my memory right now, so I lost track of that search. Send a new search and I'll answer.",
  noMemoryFresh: "I can't reach my memory right now, so I searched for just these words.",
  startOver: 'Starting fresh — what would you like to see?',
  noMoreResults: "That's everything I have for this search. Try different words, or *new: …* to start over.",
  noSuchPick: (n: number, count: number) =>
    count > 0 ? `There's no #${n} — pick a number from 1 to ${count}.` : "There's nothing to pick from yet.",
  pickGone: 'That photo is no longer available — try another one.',
  imageUnreadable: "I couldn't read that image — please send a JPEG, PNG or WebP photo.",
  rateLimited: (seconds: number) => `You're searching fast! Please wait ${seconds} s and try again.`,
  duplicate: 'Already on it.',
  notEnglish:
    'I understand English best, so results for other languages may be weaker — English words work better.',
  translated: (english: string) => `Searched in English as “${english}”.`,
} as const;
