/** Reads the deployment files the ops tests check: the alert rules and the Grafana dashboard. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';

export const PROMETHEUS_DIR = path.resolve('deploy/prometheus');
export const DASHBOARD = path.resolve('deploy/grafana/dashboards/imagesearch.json');

/** One rule of deploy/prometheus/imagesearch.rules.yml. */
export interface AlertRule {
  alert?: string;
  expr: string;
  annotations?: Record<string, string>;
  labels?: Record<string, string>;
}

/** Every rule of the rules file. */
export function alertRules(): AlertRule[] {
  const doc = parse(readFileSync(path.join(PROMETHEUS_DIR, 'imagesearch.rules.yml'), 'utf8')) as {
    groups: { rules: AlertRule[] }[];
  };
  return doc.groups.flatMap((g) => g.rules);
}

export function promtoolInstalled(): boolean {
  try {
    execFileSync('promtool', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** One metric selector in a PromQL expression: the metric's name and the label names it matches on. */
export interface MetricReference {
  name: string;
  labels: string[];
  /** Where it was found (a panel title or an alert name). */
  where: string;
}

/** The bot's metric names (and their matched label names) in a PromQL expression. */
export function metricReferences(expr: string, where: string): MetricReference[] {
  const refs: MetricReference[] = [];
  for (const m of expr.matchAll(/\b(imagesearch_[a-z0-9_]+)(\{([^}]*)\})?/g)) {
    const labels = [...(m[3] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)/g)].map(
      (l) => l[1] ?? '',
    );
    refs.push({ name: m[1] ?? '', labels, where });
  }
  return refs;
}

interface DashboardPanel {
  title: string;
  targets?: { expr?: string }[];
  panels?: DashboardPanel[];
}

/** Every PromQL expression of the dashboard: its panels' targets and its query variables. */
export function dashboardExpressions(dashboard: {
  panels: DashboardPanel[];
  templating?: { list: { name: string; definition?: string }[] };
}): { expr: string; where: string }[] {
  const out: { expr: string; where: string }[] = [];
  const walk = (panels: DashboardPanel[]) => {
    for (const p of panels) {
      for (const t of p.targets ?? []) if (t.expr) out.push({ expr: t.expr, where: `panel "${p.title}"` });
      walk(p.panels ?? []);
    }
  };
  walk(dashboard.panels);
  for (const v of dashboard.templating?.list ?? [])
    if (v.definition) out.push({ expr: v.definition, where: `variable $${v.name}` });
  return out;
}

/** Sample names and, per name, the label names seen, from a Prometheus text exposition. */
export function exposedSeries(exposition: string): Map<string, Set<string>> {
  const series = new Map<string, Set<string>>();
  for (const line of exposition.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})? /.exec(line);
    if (!m?.[1]) continue;
    const labels = series.get(m[1]) ?? new Set<string>();
    for (const l of (m[3] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="/g)) labels.add(l[1] ?? '');
    series.set(m[1], labels);
  }
  return series;
}
