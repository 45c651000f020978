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

  it('blanks object-storage credentials: AWS variables, LanceDB storage options, access key ids in text', () => {
    const { logger, text } = capture();
    const aws = {
      AWS_ACCESS_KEY_ID: 'AKIAIOSFODNN7EXAMPLE',
      AWS_SECRET_ACCESS_KEY: 'SECRETwJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY',
      AWS_SESSION_TOKEN: 'SECRETsessiontoken0123',
    };
    logger.info({ env: aws }, 'environment dump');
    logger.info(
      {
        storageOptions: {
          aws_access_key_id: aws.AWS_ACCESS_KEY_ID,
          aws_secret_access_key: aws.AWS_SECRET_ACCESS_KEY,
          aws_region: 'us-east-1',
        },
      },
      'connecting',
    );
    logger.warn(
      { err: new Error(`request signed with ${aws.AWS_ACCESS_KEY_ID} was refused`) },
      'store error',
    );
    expectClean(text());
    expect(text()).not.toContain('AKIAIOSFODNN7EXAMPLE');
    expect(text()).toContain('"aws_region":"us-east-1"');
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

  it('logs an `err` that is not an Error (a string, a number) as itself, still scrubbed', () => {
    const { logger, text } = capture();
    logger.warn({ err: `rejected with ${SECRETS.SLACK_BOT_TOKEN}` }, 'a promise rejected with a string');
    logger.warn({ err: 429 }, 'a promise rejected with a number');
    const [stringLine, numberLine] = text()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { err: unknown });
    expect(stringLine!.err).toBe('rejected with [redacted]');
    expect(numberLine!.err).toBe(429);
    expectClean(text());
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

describe('log message strings, more token shapes, configured secret values', () => {
  // Real shapes: Discord's documentation example token, a Hugging Face user token, a Slack signing
  // secret (32 hex characters).
  const DISCORD = 'MTk4NjIyNDgzNDcxOTI1MjQ4.Cl2FMQ.ZnCjm1XVW7vRze4b7Cq4se7kKWs';
  const HF = 'hf_AbCdEfGhIjKlMnOpQrStUvWxYz01234567';
  const SIGNING = '8f742231b10e8888abcd99aaabbb85a5';

  it('scrubs the message string, not only the logged object', () => {
    const { logger, text } = capture();
    logger.info(`connecting with ${SECRETS.SLACK_BOT_TOKEN}`);
    logger.warn({ attempt: 1 }, `retrying with key ${SECRETS.GEMINI_API_KEY}`);
    logger.child({ adapter: 'x' }).info('token %s', SECRETS.SLACK_APP_TOKEN);
    const out = text();
    expectClean(out);
    expect(out).toContain('connecting with [redacted]');
  });

  it('knows Discord bot tokens, Hugging Face tokens and a Slack signing secret by shape', () => {
    expect(scrubText(`login ${DISCORD} failed`)).toBe('login [redacted] failed');
    expect(scrubText(`hub said 401 for ${HF}`)).toBe('hub said 401 for [redacted]');
    expect(scrubText(`signing secret: ${SIGNING}`)).not.toContain(SIGNING);
    const { logger, text } = capture();
    logger.error(`discord ${DISCORD} / hf ${HF}`);
    expect(text()).not.toContain(DISCORD);
    expect(text()).not.toContain(HF);
  });

  it('blanks the exact value of every secret-bearing variable, whatever its shape', () => {
    const odd = {
      SLACK_BOT_TOKEN: 'xoxb-SECRETodd-bot',
      SLACK_SIGNING_SECRET: 'SECRETplainsigningvalue',
      SLACK_APP_TOKEN: 'SECRETappvalue-no-prefix',
      DISCORD_TOKEN: 'SECRETdiscordvalue',
      GEMINI_API_KEY: 'SECRETgeminivalue',
      HF_TOKEN: 'SECREThfvalue',
      STATE_URL: 'redis://user:SECRETredisvalue@localhost:6379',
    };
    loadConfig(odd);
    const { logger, text } = capture();
    for (const [name, value] of Object.entries(odd)) {
      logger.info(`${name} is ${value}`);
      logger.info({ note: `inside ${value} a field` }, 'field');
      logger.info({ list: [value] }, 'array');
    }
    const out = text();
    expect(out).not.toMatch(/SECRET[a-z]/);
    expect(out).toContain('SLACK_SIGNING_SECRET is [redacted]');
  });
});
