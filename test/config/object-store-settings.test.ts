/**
 * The object-storage settings (src/index/location.ts through the configuration schema) against AWS's
 * own conventions: unset, empty, false-like, true-like and conflicting values of every variable.
 */
import { describe, expect, it } from 'vitest';
import { ImageSearchError } from '../../src/core/errors.ts';
import { objectStoreSettings } from '../../src/index/location.ts';
import { loadConfig, secretValues } from '../../src/util/config.ts';
import { scrubText } from '../../src/util/log-scrub.ts';

const refusal = (env: NodeJS.ProcessEnv): ImageSearchError => {
  try {
    objectStoreSettings(env);
  } catch (e) {
    return e as ImageSearchError;
  }
  throw new Error('expected a refusal');
};

describe('object store settings (AWS_* and IMAGESEARCH_S3_*)', () => {
  it('with nothing set: the client timeouts only, no endpoint, region or credentials', () => {
    const s = objectStoreSettings({});
    // 5 s to connect and 30 s a request: a wrong bucket stops `serve` at start, not after object_store's
    // three minutes of retries; 2 retries within 10 s ride out one dropped connection.
    expect(s.options).toEqual({
      connect_timeout: '5s',
      timeout: '30s',
      client_max_retries: '2',
      client_retry_timeout: '10',
    });
    expect(s.endpoint).toBeUndefined();
    expect(s.secrets).toEqual([]);
    expect(s.variables).toEqual(['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_REGION']);
  });

  it('treats empty and blank values as unset (the defaults apply, nothing empty reaches the client)', () => {
    const blank = {
      AWS_ENDPOINT_URL: '',
      AWS_ENDPOINT_URL_S3: ' ',
      AWS_ACCESS_KEY_ID: '',
      AWS_SECRET_ACCESS_KEY: '',
      AWS_SESSION_TOKEN: '',
      AWS_REGION: '',
      AWS_DEFAULT_REGION: '',
      AWS_ALLOW_HTTP: '',
      AWS_VIRTUAL_HOSTED_STYLE_REQUEST: '',
      IMAGESEARCH_S3_CONNECT_TIMEOUT: '',
      IMAGESEARCH_S3_TIMEOUT: ' ',
      IMAGESEARCH_S3_MAX_RETRIES: '',
      IMAGESEARCH_S3_RETRY_TIMEOUT: '',
    };
    expect(objectStoreSettings(blank)).toEqual(objectStoreSettings({}));
  });

  it('AWS_ENDPOINT_URL_S3 wins over AWS_ENDPOINT_URL, as in AWS SDKs; either alone is used; errors name the one used', () => {
    const both = objectStoreSettings({
      AWS_ENDPOINT_URL: 'http://general.example:9000',
      AWS_ENDPOINT_URL_S3: 'http://s3-only.example:9000',
    });
    expect(both.endpoint).toBe('http://s3-only.example:9000');
    expect(both.options.aws_endpoint).toBe('http://s3-only.example:9000');
    expect(both.variables).toContain('AWS_ENDPOINT_URL_S3');
    expect(both.variables).not.toContain('AWS_ENDPOINT_URL');
    const general = objectStoreSettings({ AWS_ENDPOINT_URL: 'https://general.example' });
    expect(general.options.aws_endpoint).toBe('https://general.example');
    expect(general.variables).toContain('AWS_ENDPOINT_URL');
    const s3only = objectStoreSettings({ AWS_ENDPOINT_URL_S3: 'https://s3-only.example' });
    expect(s3only.options.aws_endpoint).toBe('https://s3-only.example');
    // An empty service-specific value does not hide the general one.
    const emptyS3 = objectStoreSettings({
      AWS_ENDPOINT_URL: 'https://general.example',
      AWS_ENDPOINT_URL_S3: '',
    });
    expect(emptyS3.options.aws_endpoint).toBe('https://general.example');
  });

  it('AWS_REGION wins over AWS_DEFAULT_REGION, which is the fallback; an empty AWS_REGION falls back too', () => {
    expect(
      objectStoreSettings({ AWS_REGION: 'eu-west-1', AWS_DEFAULT_REGION: 'us-east-2' }).options.aws_region,
    ).toBe('eu-west-1');
    const fallback = objectStoreSettings({ AWS_DEFAULT_REGION: 'us-east-2' });
    expect(fallback.options.aws_region).toBe('us-east-2');
    expect(fallback.variables).toContain('AWS_DEFAULT_REGION');
    expect(objectStoreSettings({ AWS_REGION: '', AWS_DEFAULT_REGION: 'us-east-2' }).options.aws_region).toBe(
      'us-east-2',
    );
    expect(objectStoreSettings({ AWS_REGION: 'eu-west-1' }).variables).toContain('AWS_REGION');
    expect(objectStoreSettings({}).options.aws_region).toBeUndefined();
  });

  it('an endpoint means path-style buckets unless AWS_VIRTUAL_HOSTED_STYLE_REQUEST is true-like', () => {
    const style = (v: string | undefined) =>
      objectStoreSettings({ AWS_ENDPOINT_URL: 'http://127.0.0.1:9000', AWS_VIRTUAL_HOSTED_STYLE_REQUEST: v })
        .options.aws_virtual_hosted_style_request;
    expect(style(undefined)).toBe('false');
    for (const f of ['', '0', 'false', 'FALSE', 'no', 'off']) expect(style(f)).toBe('false');
    for (const t of ['1', 'true', 'True', 'YES', 'on', ' true ']) expect(style(t)).toBe('true');
    // Without an endpoint AWS's own host names apply: the option is not set at all.
    expect(objectStoreSettings({ AWS_VIRTUAL_HOSTED_STYLE_REQUEST: 'true' }).options).not.toHaveProperty(
      'aws_virtual_hosted_style_request',
    );
  });

  it('AWS_ALLOW_HTTP: true-like permits plain http, false-like and unset do not; a plain-http endpoint names it', () => {
    const allow = (v: string | undefined) =>
      objectStoreSettings({ AWS_ENDPOINT_URL: 'http://127.0.0.1:9000', AWS_ALLOW_HTTP: v }).options
        .allow_http;
    expect(allow(undefined)).toBeUndefined();
    for (const f of ['', '0', 'false', 'No', 'OFF']) expect(allow(f)).toBeUndefined();
    for (const t of ['1', 'true', 'TRUE', 'yes', 'On']) expect(allow(t)).toBe('true');
    expect(objectStoreSettings({ AWS_ENDPOINT_URL: 'http://127.0.0.1:9000' }).variables).toContain(
      'AWS_ALLOW_HTTP=true (a plain-http endpoint)',
    );
    expect(objectStoreSettings({ AWS_ENDPOINT_URL: 'https://minio.example' }).variables.join()).not.toContain(
      'AWS_ALLOW_HTTP',
    );
  });

  it('passes credentials through, lists them as secrets, and hands them to the log scrubber', () => {
    const s = objectStoreSettings({
      AWS_ACCESS_KEY_ID: 'AKIDEXAMPLEKEY123',
      AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI-secret-for-scrub-test',
      AWS_SESSION_TOKEN: 'session-token-for-scrub-test',
    });
    expect(s.options).toMatchObject({
      aws_access_key_id: 'AKIDEXAMPLEKEY123',
      aws_secret_access_key: 'wJalrXUtnFEMI-secret-for-scrub-test',
      aws_session_token: 'session-token-for-scrub-test',
    });
    expect(s.secrets).toEqual([
      'AKIDEXAMPLEKEY123',
      'wJalrXUtnFEMI-secret-for-scrub-test',
      'session-token-for-scrub-test',
    ]);
    expect(scrubText('key wJalrXUtnFEMI-secret-for-scrub-test and session-token-for-scrub-test')).toBe(
      'key [redacted] and [redacted]',
    );
  });

  it('takes the client timeouts as set, and refuses malformed ones naming the variable, never the value', () => {
    const s = objectStoreSettings({
      IMAGESEARCH_S3_CONNECT_TIMEOUT: '500ms',
      IMAGESEARCH_S3_TIMEOUT: '2m',
      IMAGESEARCH_S3_MAX_RETRIES: '0',
      IMAGESEARCH_S3_RETRY_TIMEOUT: '60',
    });
    expect(s.options).toMatchObject({
      connect_timeout: '500ms',
      timeout: '2m',
      client_max_retries: '0',
      client_retry_timeout: '60',
    });
    for (const [name, value] of [
      ['IMAGESEARCH_S3_CONNECT_TIMEOUT', 'five-sec-secretish'],
      ['IMAGESEARCH_S3_TIMEOUT', '30'],
      ['IMAGESEARCH_S3_MAX_RETRIES', '-1'],
      ['IMAGESEARCH_S3_RETRY_TIMEOUT', '1.5'],
      ['AWS_ALLOW_HTTP', 'maybe-secretish'],
      ['AWS_ENDPOINT_URL', 'ftp://store.example'],
      ['AWS_ENDPOINT_URL_S3', 'not a url secretish'],
    ] as const) {
      const err = refusal({ [name]: value });
      expect(err).toBeInstanceOf(ImageSearchError);
      expect(err.code).toBe('config_invalid');
      expect(err.userMessage).toContain(`${name}:`);
      expect(err.userMessage).not.toContain(value);
    }
  });

  it('loadConfig validates the same variables at start and registers the AWS secrets', () => {
    expect(() => loadConfig({ AWS_ALLOW_HTTP: 'perhaps' })).toThrow(/AWS_ALLOW_HTTP/);
    const config = loadConfig({
      AWS_SECRET_ACCESS_KEY: 'config-loaded-aws-secret-value',
      AWS_SESSION_TOKEN: 'config-loaded-aws-session',
      AWS_ENDPOINT_URL: 'https://general.example',
      AWS_ENDPOINT_URL_S3: 'https://s3.example',
      AWS_DEFAULT_REGION: 'ap-south-1',
    });
    expect(config.objectStore.options).toMatchObject({
      aws_endpoint: 'https://s3.example',
      aws_region: 'ap-south-1',
    });
    expect(secretValues(config)).toEqual(
      expect.arrayContaining(['config-loaded-aws-secret-value', 'config-loaded-aws-session']),
    );
    expect(scrubText('x config-loaded-aws-secret-value y')).toBe('x [redacted] y');
  });
});
