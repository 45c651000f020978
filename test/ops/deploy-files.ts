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
