/**
 * The Grafana dashboard imports: Grafana itself is not installable here (neither npm nor Debian
 * carries it), so its JSON is checked against a zod schema of what Grafana's dashboard model
 * (schemaVersion 39, the `Dashboard` kind) requires of an imported dashboard: a title, a uid
 * Grafana accepts, panels with unique ids, a known type and a grid position inside the 24 columns,
 * non-overlapping; targets with unique refIds and a datasource; every `$variable` defined. The
 * compose file's monitoring profile mounts what the provisioning files name, and Prometheus's
 * configuration passes `promtool check config`.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { z } from 'zod';
import { tempDir } from '../support/fixtures.ts';
import { DASHBOARD, dashboardExpressions, PROMETHEUS_DIR, promtoolInstalled } from './deploy-files.ts';

const datasourceRef = z.object({ type: z.literal('prometheus'), uid: z.string().min(1) }).strict();

const gridPos = z
  .object({
    x: z.number().int().min(0).max(23),
    y: z.number().int().min(0),
    w: z.number().int().min(1).max(24),
    h: z.number().int().min(1),
  })
  .refine((g) => g.x + g.w <= 24, 'a panel must fit in the 24 grid columns');

const target = z.object({
  refId: z.string().regex(/^[A-Z]$/),
  datasource: datasourceRef,
  expr: z.string().min(1),
  legendFormat: z.string().optional(),
});

const basePanel = {
  id: z.number().int().positive(),
  title: z.string().min(1),
  gridPos,
  description: z.string().optional(),
};

const queryPanel = z.object({
  ...basePanel,
  // Grafana's built-in panel plugins this dashboard uses (no plugin to install).
  type: z.enum(['timeseries', 'stat', 'state-timeline']),
  datasource: datasourceRef,
  targets: z
    .array(target)
    .min(1)
    .refine((ts) => new Set(ts.map((t) => t.refId)).size === ts.length, 'refIds must be unique in a panel'),
  fieldConfig: z.object({
    defaults: z.object({ unit: z.string() }).passthrough(),
    overrides: z.array(z.unknown()),
  }),
  options: z.record(z.string(), z.unknown()),
});

const rowPanel = z.object({
  ...basePanel,
  type: z.literal('row'),
  collapsed: z.boolean(),
  panels: z.array(z.unknown()),
});

const variable = z.object({
  name: z.string().regex(/^[a-zA-Z_][a-zA-Z0-9_]*$/),
  type: z.enum(['datasource', 'query', 'custom', 'interval', 'constant']),
  label: z.string().optional(),
});

const dashboardSchema = z.object({
  // Grafana rejects uids over 40 characters or with other characters.
  uid: z.string().regex(/^[a-zA-Z0-9_-]{1,40}$/),
  title: z.string().min(1),
  schemaVersion: z.number().int().min(36),
  version: z.number().int().min(0),
  editable: z.boolean(),
  time: z.object({ from: z.string(), to: z.string() }),
  refresh: z.string(),
  tags: z.array(z.string()),
  annotations: z.object({ list: z.array(z.object({ name: z.string(), type: z.string() }).passthrough()) }),
  templating: z.object({ list: z.array(variable.passthrough()) }),
  panels: z.array(z.discriminatedUnion('type', [queryPanel, rowPanel])).min(1),
});

// Grafana's own variables ($__rate_interval, $__range, …) need no definition.
const usedVariables = (expr: string) =>
  [...expr.matchAll(/\$\{?([a-zA-Z_][a-zA-Z0-9_]*)/g)]
    .map((m) => m[1] ?? '')
    .filter((v) => !v.startsWith('__'));

describe('Grafana dashboard', () => {
  const json = JSON.parse(readFileSync(DASHBOARD, 'utf8'));

  it('has the shape Grafana imports', () => {
    const result = dashboardSchema.safeParse(json);
    expect(result.success ? [] : result.error.issues).toEqual([]);
  });

  it('has unique panel ids and no overlapping panels', () => {
    const panels = dashboardSchema.parse(json).panels;
    expect(new Set(panels.map((p) => p.id)).size).toBe(panels.length);
    const cells = new Set<string>();
    for (const p of panels)
      for (let x = p.gridPos.x; x < p.gridPos.x + p.gridPos.w; x++)
        for (let y = p.gridPos.y; y < p.gridPos.y + p.gridPos.h; y++) {
          expect(cells.has(`${x},${y}`), `"${p.title}" overlaps another panel at ${x},${y}`).toBe(false);
          cells.add(`${x},${y}`);
        }
  });

  it('defines every variable its queries use', () => {
    const defined = new Set(dashboardSchema.parse(json).templating.list.map((v) => v.name));
    const used = new Set([
      ...dashboardExpressions(json).flatMap((e) => usedVariables(e.expr)),
      ...(JSON.stringify(json.panels)
        .match(/"uid":"\$\{(\w+)\}"/g)
        ?.map((m) => m.replace(/.*\{(\w+)\}.*/, '$1')) ?? []),
    ]);
    expect([...used].filter((v) => !defined.has(v))).toEqual([]);
    expect(used.has('datasource')).toBe(true);
  });

  it('shows what operators asked for: requests and p50/p95 by platform, stages, fallbacks, tokens, cost, readiness', () => {
    const exprs = dashboardExpressions(json).map((e) => e.expr);
    const has = (re: RegExp) => exprs.some((e) => re.test(e));
    expect(has(/sum by \(platform\) \(rate\(imagesearch_requests_total/)).toBe(true);
    expect(has(/histogram_quantile\(0\.5, sum by \(platform, le\)/)).toBe(true);
    expect(has(/histogram_quantile\(0\.95, sum by \(platform, le\)/)).toBe(true);
    expect(has(/sum by \(stage, le\) \(rate\(imagesearch_stage_duration_seconds_bucket/)).toBe(true);
    expect(has(/sum by \(reason\) \(rate\(imagesearch_gemini_fallbacks_total/)).toBe(true);
    expect(has(/imagesearch_gemini_tokens_total/)).toBe(true);
    expect(has(/imagesearch_gemini_cost_usd_total\[\S+\]\)\) \/ sum\(rate\(imagesearch_requests_total/)).toBe(
      true,
    );
    expect(exprs).toContain('imagesearch_ready');
  });
});

describe('monitoring profile', () => {
  const compose = parse(readFileSync('docker-compose.yml', 'utf8')) as {
    services: Record<string, { profiles?: string[]; volumes?: string[]; image?: string }>;
  };

  it('runs Prometheus and Grafana with the rules, the dashboard and their provisioning mounted', () => {
    for (const name of ['prometheus', 'grafana']) {
      const svc = compose.services[name];
      expect(svc?.profiles).toEqual(['monitoring']);
      expect(svc?.image).toMatch(/:v?\d+\.\d+\.\d+$/);
      for (const volume of svc?.volumes ?? []) {
        const source = volume.split(':')[0] ?? '';
        if (source.startsWith('./')) expect(existsSync(source), volume).toBe(true);
      }
    }
    const grafanaMounts = compose.services.grafana?.volumes ?? [];
    const provider = parse(
      readFileSync('deploy/grafana/provisioning/dashboards/imagesearch.yml', 'utf8'),
    ) as {
      providers: { options: { path: string } }[];
    };
    expect(grafanaMounts).toContain(`./deploy/grafana/dashboards:${provider.providers[0]?.options.path}:ro`);
    expect(grafanaMounts).toContain('./deploy/grafana/provisioning:/etc/grafana/provisioning:ro');
    const datasource = parse(
      readFileSync('deploy/grafana/provisioning/datasources/prometheus.yml', 'utf8'),
    ) as {
      datasources: { type: string; url: string }[];
    };
    expect(datasource.datasources[0]).toMatchObject({ type: 'prometheus', url: 'http://prometheus:9090' });
    const promMounts = compose.services.prometheus?.volumes ?? [];
    expect(promMounts).toContain(
      './deploy/prometheus/imagesearch.rules.yml:/etc/prometheus/imagesearch.rules.yml:ro',
    );
  });

  it.skipIf(!promtoolInstalled())(
    'has a Prometheus configuration promtool accepts, loading the rules',
    () => {
      // The configuration names the rules at their path in the container; check a copy pointing here.
      const dir = tempDir('imagesearch-promconf-');
      const config = readFileSync(path.join(PROMETHEUS_DIR, 'prometheus.yml'), 'utf8');
      expect(config).toContain('/etc/prometheus/imagesearch.rules.yml');
      writeFileSync(path.join(dir, 'prometheus.yml'), config.replace('/etc/prometheus/', ''));
      copyFileSync(
        path.join(PROMETHEUS_DIR, 'imagesearch.rules.yml'),
        path.join(dir, 'imagesearch.rules.yml'),
      );
      const run = spawnSync('promtool', ['check', 'config', 'prometheus.yml'], {
        cwd: dir,
        encoding: 'utf8',
      });
      expect(`${run.stdout}${run.stderr}`).toContain('SUCCESS: 1 rule files found');
      expect(run.status).toBe(0);
    },
  );
});
