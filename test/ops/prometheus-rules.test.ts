/**
 * The alert rules (deploy/prometheus/imagesearch.rules.yml) pass `promtool check rules`, and their
 * unit tests (imagesearch.rules.test.yml: series that fire each alert and series that must not) pass
 * `promtool test rules`. Every alert has a runbook entry in docs/operations.md. Skipped, with the
 * reason printed, where promtool is not installed (Debian: the `prometheus` package; .ci/run has it).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { alertRules, PROMETHEUS_DIR as DIR, promtoolInstalled } from './deploy-files.ts';

const hasPromtool = promtoolInstalled();
if (!hasPromtool)
  console.warn('skipping the promtool checks: promtool is not installed (apt install prometheus)');

const promtool = (...args: string[]) => {
  const run = spawnSync('promtool', args, { cwd: DIR, encoding: 'utf8' });
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
};

describe.skipIf(!hasPromtool)('promtool', () => {
  it('checks the rules file', () => {
    const { status, output } = promtool('check', 'rules', 'imagesearch.rules.yml');
    expect(output).toContain(`SUCCESS: ${alertRules().length} rules found`);
    expect(status).toBe(0);
  });

  it('passes the rules unit tests', () => {
    const { status, output } = promtool('test', 'rules', 'imagesearch.rules.test.yml');
    expect(output).toContain('SUCCESS');
    expect(status).toBe(0);
  });
});

describe('alert rules', () => {
  const tests = parse(readFileSync(path.join(DIR, 'imagesearch.rules.test.yml'), 'utf8')) as {
    tests: { alert_rule_test: { alertname: string; exp_alerts: unknown[] }[] }[];
  };
  const cases = tests.tests.flatMap((t) => t.alert_rule_test);

  it.each(alertRules().map((r) => [r.alert ?? '']))(
    '%s has a test that fires it, one that must not, and a runbook entry',
    (alert) => {
      const mine = cases.filter((c) => c.alertname === alert);
      expect(mine.some((c) => c.exp_alerts.length > 0)).toBe(true);
      expect(mine.some((c) => c.exp_alerts.length === 0) || negativeSeriesIn(alert)).toBe(true);
      const rule = alertRules().find((r) => r.alert === alert);
      const anchor = rule?.annotations?.runbook?.split('#')[1];
      expect(anchor).toBeDefined();
      const ops = readFileSync('docs/operations.md', 'utf8');
      // GitHub's heading anchors: lower case, so "### ImagesearchHighErrorRate" is #imagesearchhigherrorrate.
      const headings = [...ops.matchAll(/^#{2,4} (.+)$/gm)].map((m) =>
        m[1]
          ?.toLowerCase()
          .replace(/[^a-z0-9 -]/g, '')
          .replace(/ /g, '-'),
      );
      expect(headings).toContain(anchor);
    },
  );
});

/**
 * Alerts with a per-label result (platform, reason, instance) show "must not" by a series in the
 * same test whose label value is absent from the expected alerts.
 */
function negativeSeriesIn(alert: string): boolean {
  const doc = parse(readFileSync(path.join(DIR, 'imagesearch.rules.test.yml'), 'utf8')) as {
    tests: {
      input_series: { series: string }[];
      alert_rule_test: { alertname: string; exp_alerts: { exp_labels: Record<string, string> }[] }[];
    }[];
  };
  return doc.tests.some((t) =>
    t.alert_rule_test.some((c) => {
      if (c.alertname !== alert || c.exp_alerts.length === 0) return false;
      const fired = c.exp_alerts.map((a) => a.exp_labels);
      const keys = Object.keys(fired[0] ?? {}).filter((k) => k !== 'severity' && k !== 'job');
      return t.input_series.some((s) =>
        keys.some((k) => {
          const v = new RegExp(`${k}="([^"]+)"`).exec(s.series)?.[1];
          return v !== undefined && !fired.some((f) => f[k] === v);
        }),
      );
    }),
  );
}
