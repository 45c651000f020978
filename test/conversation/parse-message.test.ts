import { describe, expect, it } from 'vitest';
import { mergeQuery, parseMessage, splitNegatives } from '../../src/conversation/parse-message.ts';

describe('parseMessage', () => {
  it.each(['help', 'HELP', '?', '/help', '!help', 'commands', 'what can you do?'])('help: %s', (t) => {
    expect(parseMessage(t)).toEqual({ type: 'help' });
  });

  it.each(['start over', 'Start over!', 'restart', 'reset', 'clear', 'new', 'new search', 'new:', 'new: '])(
    'start over: %s',
    (t) => {
      expect(parseMessage(t)).toEqual({ type: 'start-over' });
    },
  );

  it('"new: …" starts a fresh search, negatives split off', () => {
    expect(parseMessage('new: dogs on a beach')).toEqual({
      type: 'new',
      text: 'dogs on a beach',
      negatives: [],
    });
    expect(parseMessage('NEW:dogs without people')).toEqual({
      type: 'new',
      text: 'dogs',
      negatives: ['people'],
    });
    expect(parseMessage('search: red cars')).toEqual({ type: 'new', text: 'red cars', negatives: [] });
    expect(parseMessage('start over: snow')).toEqual({ type: 'new', text: 'snow', negatives: [] });
  });

  it.each([
    ['2', 2],
    ['#3', 3],
    ['open 1', 1],
    ['Open #4', 4],
    ['show 2', 2],
    ['view 2', 2],
    ['full size 3', 3],
    ['number 2', 2],
    ['no. 2', 2],
    ['2.', 2],
    ['12', 12],
  ])('open: %s', (t, n) => {
    expect(parseMessage(t)).toEqual({ type: 'open', n });
  });

  it.each([
    ['more like 2', 2],
    ['More like #3', 3],
    ['like 1', 1],
    ['similar to 4', 4],
    ['more similar to 2', 2],
    ['show more like 2', 2],
    ['find more like number 3', 3],
    ['more like 2!', 2],
  ])('more like: %s', (t, n) => {
    expect(parseMessage(t)).toEqual({ type: 'more-like', n });
  });

  it.each([
    'more',
    'More!',
    '4 more',
    'four more',
    'some more',
    'more please',
    'show more',
    'give me more',
    'next',
    'next 4',
    'reroll',
    're-roll',
    'again',
    'shuffle',
    'another',
    'different ones',
    'more of these',
  ])('next: %s', (t) => {
    expect(parseMessage(t)).toEqual({ type: 'next' });
  });

  it('anything else refines; commands only match whole messages', () => {
    expect(parseMessage('only black and white')).toEqual({
      type: 'refine',
      text: 'only black and white',
      negatives: [],
    });
    expect(parseMessage('more cats')).toEqual({ type: 'refine', text: 'more cats', negatives: [] });
    expect(parseMessage('2 dogs')).toEqual({ type: 'refine', text: '2 dogs', negatives: [] });
    expect(parseMessage('new york skyline')).toEqual({
      type: 'refine',
      text: 'new york skyline',
      negatives: [],
    });
    expect(parseMessage('open fields')).toEqual({ type: 'refine', text: 'open fields', negatives: [] });
    expect(parseMessage('helpful dogs')).toEqual({ type: 'refine', text: 'helpful dogs', negatives: [] });
  });

  it('surrounding whitespace does not hide a command', () => {
    expect(parseMessage('  2  ')).toEqual({ type: 'open', n: 2 });
    expect(parseMessage(' help\n')).toEqual({ type: 'help' });
    expect(parseMessage(' new:  cats ')).toEqual({ type: 'new', text: 'cats', negatives: [] });
  });

  it('negative-only messages refine with an empty positive text', () => {
    expect(parseMessage('without people')).toEqual({ type: 'refine', text: '', negatives: ['people'] });
    expect(parseMessage('no people')).toEqual({ type: 'refine', text: '', negatives: ['people'] });
    expect(parseMessage('-people')).toEqual({ type: 'refine', text: '', negatives: ['people'] });
  });
});

describe('splitNegatives', () => {
  it.each([
    ['a beach without people', 'a beach', ['people']],
    ['a beach with no people', 'a beach', ['people']],
    ['a beach, no people', 'a beach', ['people']],
    ['a beach but no people', 'a beach', ['people']],
    ['beach -people -boats', 'beach', ['people', 'boats']],
    ['-cars city at night', 'city at night', ['cars']],
    ['city at night without cars, without any people', 'city at night', ['cars', 'people']],
    ['without cats and dogs', '', ['cats and dogs']],
    ['excluding the sky, minus clouds', '', ['sky', 'clouds']],
    ['a cat that is not sleeping', 'a cat that is', ['sleeping']],
    ['t-shirt design', 't-shirt design', []],
    ['pages 1-2 of a book', 'pages 1-2 of a book', []],
    ['snow covered nothing', 'snow covered nothing', []],
    ['no', 'no', []],
    ['beach -people -people', 'beach', ['people']],
    ['Beach WITHOUT People', 'Beach', ['people']],
  ])('%s', (input, text, negatives) => {
    expect(splitNegatives(input)).toEqual({ text, negatives });
  });

  it.each([
    // Negatives come out in the order written, "-X" and phrases mixed.
    ['sunset -silhouettes -reflections, no people', 'sunset', ['silhouettes', 'reflections', 'people']],
    // Only a LEADING article is dropped, with all the space after it; a lone article is the term.
    ['a beach without people in a boat', 'a beach', ['people in a boat']],
    ['cats without the  dogs', 'cats', ['dogs']],
    ['dogs without the , cats', 'dogs, cats', ['the']],
    // Trailing "!" and "?" go; a term without a letter or digit is no term.
    ['cats without dogs!!', 'cats', ['dogs']],
    ['cats without ***', 'cats', []],
    ['cats without 42', 'cats', ['42']],
  ])('negative terms: %s', (input, text, negatives) => {
    expect(splitNegatives(input)).toEqual({ text, negatives });
  });

  it.each([
    // What a negative leaves behind is tidied: no space before a comma, none doubled, none at the ends.
    ['a beach without people, at dusk', 'a beach, at dusk', ['people']],
    ['a beach without the sea  , at dusk', 'a beach, at dusk', ['sea']],
    ['without people, at dusk', 'at dusk', ['people']],
    ['without dogs, , cats', 'cats', ['dogs']],
    ['beach -people at dusk', 'beach at dusk', ['people']],
    // A connector left dangling at the end goes too, but only as a word of its own.
    ['cats or without dogs', 'cats', ['dogs']],
    ['cats -dogs or without birds', 'cats', ['dogs', 'birds']],
    ['white sand', 'white sand', []],
  ])('positive text: %s', (input, text, negatives) => {
    expect(splitNegatives(input)).toEqual({ text, negatives });
  });
});

describe('mergeQuery (no rewriter)', () => {
  it('appends refinements, dropping filler words', () => {
    expect(mergeQuery('cats on a sofa', ['only black and white'])).toBe('cats on a sofa, black and white');
    expect(mergeQuery('cats on a sofa', ['make it night', 'and in winter.'])).toBe(
      'cats on a sofa, night, in winter',
    );
  });
  it('skips duplicates and empty parts', () => {
    expect(mergeQuery('cats', ['at night', 'At night', 'only '])).toBe('cats, at night');
    expect(mergeQuery('', ['at night'])).toBe('at night');
  });
  it('trims stray spaces and trailing punctuation off every part', () => {
    expect(mergeQuery(' cats ', [' at night'])).toBe('cats, at night');
    expect(mergeQuery('cats', ['at night, ', 'in winter..'])).toBe('cats, at night, in winter');
  });
});
