/**
 * Queries in other languages: with Gemini, one rewrite call turns them into the English query CLIP
 * reads (and English queries cost no call); without it, a short note says results may be weaker.
 * Captions keep the user's own words. The real GeminiRewriter talks to the local Gemini peer.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { ClipTokenizer } from '../../src/clip/tokenizer.ts';
import { MSG } from '../../src/conversation/messages.ts';
import type { QueryRewriter } from '../../src/core/types.ts';
import { QueryLanguage } from '../../src/search/query-language.ts';
import { makeRewriter, useGeminiPeer } from '../rerank/helpers.ts';
import { conversationHarness, results } from '../support/conversation.ts';
import { CLIP_FIXTURES_DIR } from '../support/fixtures.ts';
import { createMemorySearchService } from '../support/memory-search.ts';

const peer = useGeminiPeer();
let language: QueryLanguage;

beforeAll(async () => {
  const tok = await ClipTokenizer.fromDir(CLIP_FIXTURES_DIR);
  language = new QueryLanguage({ knownWord: (w) => tok.isWholeWord(w) });
  await language.warm();
});

function setup(rewriter: QueryRewriter | undefined) {
  const { search, ask, load } = conversationHarness(createMemorySearchService(), { rewriter, language });
  return { search, ask: (text: string, followUp = false) => ask(text, { followUp }), load: () => load() };
}

const gemini = () => makeRewriter(peer.url, 'AIzaTEST-language-key-1', { timeoutMs: 1500 }).r;

describe('queries in other languages', () => {
  it('with Gemini: one rewrite call makes the English query CLIP reads; the caption keeps the user’s words', async () => {
    peer.setMode('success', { rewrite: () => 'cat on a beach' });
    const { ask, search, load } = setup(gemini());
    const r = results(await ask('gato en la playa'));
    expect(peer.requests).toHaveLength(1);
    const sent = peer.requests[0]!;
    expect(sent.kind).toBe('rewrite');
    const prompt = sent.body.contents?.[0]?.parts?.map((p) => p.text ?? '').join('\n') ?? '';
    expect(prompt).toContain('Original query: "gato en la playa"');
    expect(prompt).toContain('Refinements: none');
    // CLIP encoded the English words…
    const encoded = await search.embedText('cat on a beach');
    expect(Array.from(search.vectors[0]!)).toEqual(Array.from(encoded));
    // …while the user reads their own words, and what was searched.
    expect(r.reply.caption).toContain('“gato en la playa”');
    expect(r.text).toContain(MSG.translated('cat on a beach'));
    expect(await load()).toMatchObject({
      original: 'gato en la playa',
      queryText: 'cat on a beach',
      language: 'es',
    });
  });

  it('with Gemini: an English query costs no Gemini call at all', async () => {
    const { ask } = setup(gemini());
    const r = results(await ask('cat on a beach'));
    expect(peer.requests).toHaveLength(0);
    expect(r.text).not.toContain('English');
  });

  it('with Gemini: a refinement in another language is merged into English by the same one call', async () => {
    peer.setMode('success', { rewrite: () => 'black and white cat on a beach' });
    const { ask, load } = setup(gemini());
    await ask('cat on a beach');
    const r = results(await ask('solo en blanco y negro', true));
    expect(peer.requests).toHaveLength(1);
    expect(await load()).toMatchObject({ queryText: 'black and white cat on a beach', language: 'es' });
    expect(r.reply.caption).toContain('cat on a beach, solo en blanco y negro');
  });

  it('Gemini down: the words are searched as written, and the user is told results may be weaker', async () => {
    peer.setMode('500');
    const { ask, load } = setup(gemini());
    const r = results(await ask('chien dans la neige'));
    expect(r.text).toContain(MSG.notEnglish);
    expect(await load()).toMatchObject({ queryText: 'chien dans la neige' });
  });

  it('without a Gemini key: a short note, no call, the search still answers', async () => {
    const { ask } = setup(undefined);
    const r = results(await ask('Hund im Schnee'));
    expect(r.text.split('\n')[0]).toBe(MSG.notEnglish);
    expect(results(await ask('dog in the snow')).text).not.toContain(MSG.notEnglish);
    expect(peer.requests).toHaveLength(0);
  });
});
