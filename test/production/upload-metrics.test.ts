/**
 * The optional upload hook: the Slack adapter reports how long delivering a result took, and the
 * metrics record it as the `upload` stage.
 */
import { describe, expect, it } from 'vitest';
import { createMetrics } from '../../src/metrics/metrics.ts';
import { type HarnessAdapterOptions, settled, startHarness } from '../slack/harness.ts';
import { metricValue } from './harness.ts';

describe('upload metrics', () => {
  it('Slack reports each result upload through AdapterDeps.observeUpload', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    const seen: number[] = [];
    // The harness passes adapter options through; observeUpload is an AdapterDeps field.
    const options = {
      imageReadyRetryMs: [20, 50],
      observeUpload: (seconds: number, ok: boolean) => {
        seen.push(seconds);
        metrics.observeUpload('slack', seconds, ok);
      },
    };
    const adapterOptions: HarnessAdapterOptions = options;
    const h = await startHarness({}, undefined, adapterOptions);
    try {
      expect((await h.command('cats on a sofa')).status).toBe(200);
      await settled(h);
    } finally {
      await h.close();
    }
    expect(seen).toHaveLength(1);
    expect(seen[0]).toBeGreaterThan(0);
    const { body } = await metrics.expose();
    expect(metricValue(body, 'imagesearch_uploads_total', { platform: 'slack', outcome: 'ok' })).toBe(1);
    expect(metricValue(body, 'imagesearch_stage_duration_seconds_count', { stage: 'upload' })).toBe(1);
  });
});
