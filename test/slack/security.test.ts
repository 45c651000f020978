import { verifySlackRequest } from '@slack/bolt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { slackSignature } from '../peers/slack-signing.ts';
import { type Harness, SIGNING_SECRET, slackFixture, startHarness } from './harness.ts';

interface SigningExample {
  signing_secret: string;
  timestamp: string;
  body: string;
  basestring: string;
  expected_signature: string;
  verify_with_clock_now: number;
}

describe('slack request signing', () => {
  const example = slackFixture<SigningExample>('request_signing_example.json');

  it('the documented example verifies with our signer and with Bolt', () => {
    expect(slackSignature(example.signing_secret, example.timestamp, example.body)).toBe(
      example.expected_signature,
    );
    const verify = (body: string, nowSec: number) =>
      verifySlackRequest({
        signingSecret: example.signing_secret,
        body,
        headers: {
          'x-slack-request-timestamp': Number(example.timestamp),
          'x-slack-signature': example.expected_signature,
        },
        nowMilliseconds: nowSec * 1000,
      });
    expect(() => verify(example.body, example.verify_with_clock_now)).not.toThrow();
    expect(() => verify(`${example.body}------`, example.verify_with_clock_now)).toThrow(
      /signature mismatch/,
    );
    expect(() => verify(example.body, Math.floor(Date.now() / 1000))).toThrow(/stale/);
  });

  describe('the adapter', () => {
    let h: Harness;
    beforeAll(async () => {
      h = await startHarness();
    });
    afterAll(async () => {
      await h.close();
    });

    it('rejects a bad signature and a stale timestamp with 401, without calling the core', async () => {
      const body = new URLSearchParams({
        ...slackFixture<Record<string, string>>('slash_command_bolt_python.json'),
        command: '/imagesearch',
        text: 'cats',
      }).toString();
      const bad = await h.post(body, {
        signature: slackSignature('not-the-secret', Math.floor(Date.now() / 1000), body),
      });
      expect(bad.status).toBe(401);
      const stale = await h.post(body, { timestamp: Math.floor(Date.now() / 1000) - 6 * 60 });
      expect(stale.status).toBe(401);
      const tampered = await h.post(body, { signature: slackSignature(SIGNING_SECRET, 1, body) });
      expect(tampered.status).toBe(401);
      await new Promise((r) => setTimeout(r, 50));
      expect(h.handler.requests).toHaveLength(0);
      expect(h.peer.callsOf('chat.postMessage')).toHaveLength(0);
    });

    it('refuses a correctly signed request stamped more than 5 minutes in the future', async () => {
      const command = (text: string) =>
        new URLSearchParams({
          ...slackFixture<Record<string, string>>('slash_command_bolt_python.json'),
          command: '/imagesearch',
          text,
        }).toString();
      // Signed with the real secret: only the clock is wrong (a captured request replayed later, or
      // one made to be replayable for as long as its timestamp stays "fresh").
      const future = await h.post(command('future cats'), {
        timestamp: Math.floor(Date.now() / 1000) + 6 * 60,
      });
      expect(future.status).toBe(401);
      // A minute of clock skew is normal and still served.
      const skewed = await h.post(command('skewed cats'), { timestamp: Math.floor(Date.now() / 1000) + 60 });
      expect(skewed.status).toBe(200);
      await new Promise((r) => setTimeout(r, 50));
      expect(h.handler.requests.map((r) => r.text)).not.toContain('future cats');
    });

    it('answers Slack’s url_verification challenge', async () => {
      const res = await h.event({ type: 'url_verification', token: 'x', challenge: 'abc123' });
      expect(res.status).toBe(200);
      expect(res.body).toContain('abc123');
    });

    it('is a route only for POST /slack/events', async () => {
      const res = await fetch(h.eventsUrl.replace('/slack/events', '/other'), { method: 'POST', body: 'x' });
      expect(res.status).toBe(404);
    });
  });
});
