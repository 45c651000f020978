/**
 * Secrets never reach logs or error messages: a config dump, an HTTP error carrying an
 * Authorization header, SDK errors quoting tokens, and configuration errors for bad values.
 */
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ImageSearchError } from '../../src/core/errors.ts';
import { loadConfig } from '../../src/util/config.ts';
import { scrubText } from '../../src/util/log-scrub.ts';
import { createLogger } from '../../src/util/logger.ts';

const SECRETS = {
  SLACK_BOT_TOKEN: 'xoxb-1111-2222-SECRETslackbot',
  SLACK_SIGNING_SECRET: 'SECRETsigning0123456789',
  SLACK_APP_TOKEN: 'xapp-1-A111-SECRETapptoken',
  DISCORD_TOKEN: 'MTEx.SECRETdiscord.token0123',
  GEMINI_API_KEY: 'AIzaSECRETgeminiKey0123456789abcdef',
  STATE_URL: 'redis://default:SECRETredispw@redis:6379',
};
// Each secret value holds "SECRET" followed by lowercase text (variable names hold it uppercase only).
const NEEDLES = [/SECRET[a-z0-9]/, /xoxb-1111/, /xapp-1-A111/, /MTEx\./, /AIza/];

function capture() {
  let out = '';
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      out += chunk.toString();
      cb();
    },
  });
  return { logger: createLogger({ level: 'debug', destination }), text: () => out };
}

function expectClean(text: string) {
  for (const needle of NEEDLES) expect(text).not.toMatch(needle);
}

describe('log redaction', () => {
  it('blanks every secret of a config object, nested or as the whole log object', () => {
    const { logger, text } = capture();
    const config = loadConfig(SECRETS);
    logger.info({ config }, 'config');
    logger.info(config, 'config at top level');
    logger.info({ env: SECRETS }, 'environment dump');
    expectClean(text());
    expect(text()).toContain('[redacted]');
    // Non-secret fields survive.
    expect(text()).toContain('"geminiModel":"gemini-2.5-flash"');
  });

  it('blanks Authorization headers and tokens inside errors, at any depth', () => {
    const { logger, text } = capture();
    const httpError = Object.assign(
      new Error(`An API error occurred: invalid_auth for ${SECRETS.SLACK_BOT_TOKEN}`),
      {
        code: 'slack_webapi_platform_error',
        config: {
          headers: { Authorization: `Bearer ${SECRETS.SLACK_BOT_TOKEN}` },
          url: 'https://slack.com/api/x',
        },
        request: {
          headers: {
            authorization: `Bot ${SECRETS.DISCORD_TOKEN}`,
            'x-goog-api-key': SECRETS.GEMINI_API_KEY,
          },
        },
        response: { data: { error: { message: `API key not valid: ${SECRETS.GEMINI_API_KEY}` } } },
      },
    );
    const wrapped = new ImageSearchError('internal', 'Something went wrong', { cause: httpError });
    logger.error({ err: httpError }, 'slack call failed');
    logger.error(wrapped, 'wrapped');
    logger.warn({ error: httpError, url: `https://x.example/v1?key=${SECRETS.GEMINI_API_KEY}` }, 'other key');
    logger.warn({ redis: SECRETS.STATE_URL }, 'connecting');
    const out = text();
    expectClean(out);
    expect(out).toContain('"type":"Error"');
    expect(out).toContain('invalid_auth');
    // Usage counters that end in "tokens" are numbers, not secrets.
    logger.info({ promptTokens: 812, outputTokens: 9 }, 'usage');
    expect(text()).toContain('"promptTokens":812');
  });

  it('scrubs token shapes from free text', () => {
    expect(scrubText(`auth Bearer ${SECRETS.SLACK_BOT_TOKEN} then ${SECRETS.STATE_URL}`)).toBe(
      'auth Bearer [redacted] then redis://default:[redacted]@redis:6379',
    );
  });
});

describe('configuration errors', () => {
  const bad: Record<string, string> = {
    PORT: 'SECRETport',
    LOG_LEVEL: 'SECRETloud',
    GEMINI_BASE_URL: 'SECRET not a url',
    GEMINI_TIMEOUT_MS: '999999999',
    DISCORD_MESSAGE_CONTENT: 'SECRETmaybe',
    IMAGESEARCH_EP: 'SECRETtpu',
  };

  for (const [name, value] of Object.entries(bad)) {
    it(`names ${name} but never echoes its value`, () => {
      let error: unknown;
      try {
        loadConfig({ ...SECRETS, [name]: value });
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(ImageSearchError);
      const err = error as ImageSearchError;
      expect(err.code).toBe('config_invalid');
      expect(err.message).toContain(name);
      for (const text of [err.message, err.userMessage, String(err.stack)]) {
        expect(text).not.toContain(value);
        expectClean(text);
      }
    });
  }
});
