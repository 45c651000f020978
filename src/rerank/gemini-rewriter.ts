/**
 * Gemini as the query rewriter: the original query plus the refinements said in a thread become
 * one standalone English query (CLIP understands English best), and a query in another language is
 * translated by the same call. Anything short of a validated answer within the deadline is `undefined`;
 * the conversation engine then merges the refinements itself. Nothing here throws to the caller.
 */
import type { QueryRewriter, RerankUsage } from '../core/types.ts';
import type { GeminiClient, GeminiFailure } from './gemini-client.ts';
import {
  looksLikePromptInjection,
  MAX_PROMPT_QUERY_CHARS,
  MAX_REFINEMENTS,
  promptQuery,
  REWRITE_SCHEMA,
  REWRITE_SYSTEM_INSTRUCTION,
  rewriteText,
} from './prompt.ts';
import { parseRewrite } from './response.ts';

type Attempt = { ok: true; query: string; usage: RerankUsage | undefined } | GeminiFailure;

export class GeminiRewriter implements QueryRewriter {
  constructor(private readonly gemini: GeminiClient) {}

  async rewrite(
    original: string,
    refinements: string[],
    signal?: AbortSignal,
    opts: { translate?: boolean } = {},
  ): Promise<string | undefined> {
    const started = performance.now();
    const base = promptQuery(original);
    const refs = refinements
      .map((r) => promptQuery(r))
      .filter(Boolean)
      .slice(-MAX_REFINEMENTS);

    let attempt: Attempt;
    if (!this.gemini.enabled) attempt = { ok: false, reason: 'no_api_key' };
    // Nothing to merge or translate: the caller's deterministic merge is already the answer.
    else if (!base || (refs.length === 0 && !opts.translate)) attempt = { ok: false, reason: 'empty_input' };
    else if ([original, ...refinements].some(looksLikePromptInjection)) {
      attempt = { ok: false, reason: 'prompt_injection' };
    } else {
      attempt = await this.gemini.withinDeadline('rewrite', signal, (sig) => this.attempt(base, refs, sig));
    }
    this.gemini.report('rewrite', Math.round(performance.now() - started), attempt, attempt.usage, {
      refinements: refs.length,
      ...(opts.translate ? { translate: 1 } : {}),
    });
    return attempt.ok ? attempt.query : undefined;
  }

  private async attempt(original: string, refinements: string[], signal: AbortSignal): Promise<Attempt> {
    const called = await this.gemini.generate(
      [{ text: rewriteText(original, refinements) }],
      {
        systemInstruction: REWRITE_SYSTEM_INSTRUCTION,
        responseJsonSchema: REWRITE_SCHEMA,
        maxOutputTokens: 100,
      },
      signal,
    );
    if (!called.ok) return called;
    const query = parseRewrite(called.text, MAX_PROMPT_QUERY_CHARS);
    // A rewrite that itself reads like an instruction would be fed to the next rerank prompt.
    if (query === undefined || looksLikePromptInjection(query)) {
      return { ok: false, reason: 'malformed_response', usage: called.usage };
    }
    return { ok: true, query, usage: called.usage };
  }
}
