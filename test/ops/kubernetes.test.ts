/**
 * deploy/kubernetes/ validated offline: every resource the kustomization lists is checked against
 * the Kubernetes OpenAPI schema of its apiVersion and kind (the `kubernetes-models` package bundles
 * them as compiled validators: types, required fields, enums, formats — not unknown fields, like
 * kubeconform without -strict), and the pieces fit together: selectors match the pod labels, probes
 * call /readyz and /healthz, memory covers the measured RSS, the autoscaler runs 1–5 replicas, the
 * setup Job writes where the replicas read, and the ConfigMap is a configuration the bot accepts.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Deployment, StatefulSet } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { Job } from 'kubernetes-models/batch/v1';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ConfigMap, Namespace, PersistentVolumeClaim, Secret, Service } from 'kubernetes-models/v1';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { loadConfig } from '../../src/util/config.ts';

const DIR = path.resolve('deploy/kubernetes');

// biome-ignore lint/suspicious/noExplicitAny: manifests are free-form YAML; the schema check types them.
type Manifest = { apiVersion: string; kind: string; metadata: { name: string }; [k: string]: any };

const kustomization = parseAllDocuments(
  readFileSync(path.join(DIR, 'kustomization.yaml'), 'utf8'),
)[0]?.toJS() as {
  resources: string[];
  namespace: string;
};

const manifests: { file: string; doc: Manifest }[] = kustomization.resources.flatMap((file) =>
  parseAllDocuments(readFileSync(path.join(DIR, file), 'utf8')).map((d) => {
    expect(d.errors, file).toEqual([]);
    return { file, doc: d.toJS() as Manifest };
  }),
);

// biome-ignore lint/suspicious/noExplicitAny: each class takes its own kind's shape; checking that shape is the point.
type Model = new (data: any) => { validate(): void };

/** The schema-carrying kubernetes-models class of each apiVersion and kind the manifests use. */
const MODELS: Record<string, Model> = {
  'v1/Namespace': Namespace,
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'v1/Service': Service,
  'v1/PersistentVolumeClaim': PersistentVolumeClaim,
  'apps/v1/Deployment': Deployment,
  'apps/v1/StatefulSet': StatefulSet,
  'batch/v1/Job': Job,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy,
};

function modelOf(apiVersion: string, kind: string): Model {
  const Model = MODELS[`${apiVersion}/${kind}`];
  if (!Model) throw new Error(`no schema for ${apiVersion} ${kind}: add it to MODELS`);
  return Model;
}

const find = (kind: string, name?: string): Manifest => {
  const found = manifests.find(
    (m) => m.doc.kind === kind && (name === undefined || m.doc.metadata.name === name),
  );
  if (!found) throw new Error(`no ${kind} ${name ?? ''} in deploy/kubernetes`);
  return found.doc;
};

describe('Kubernetes manifests', () => {
  it('lists resources that each validate against the Kubernetes schema of their kind', async () => {
    expect(manifests.length).toBeGreaterThanOrEqual(11);
    const problems: string[] = [];
    for (const { file, doc } of manifests) {
      try {
        new (modelOf(doc.apiVersion, doc.kind))(doc).validate();
      } catch (e) {
        problems.push(`${file} ${doc.kind}/${doc.metadata?.name}: ${(e as Error).message}`);
      }
    }
    expect(problems).toEqual([]);
    const kinds = manifests.map((m) => m.doc.kind).sort();
    for (const kind of [
      'ConfigMap',
      'Deployment',
      'HorizontalPodAutoscaler',
      'Job',
      'PersistentVolumeClaim',
      'PodDisruptionBudget',
      'Secret',
      'Service',
      'StatefulSet',
    ])
      expect(kinds).toContain(kind);
  });

  it('rejects a manifest the schema forbids (the check can fail)', async () => {
    const deployment = structuredClone(find('Deployment', 'imagesearch'));
    deployment.spec.template.spec.containers[0].ports[0].containerPort = 'http';
    const Model = modelOf('apps/v1', 'Deployment');
    expect(() => new Model(deployment).validate()).toThrow(/containerPort/);
  });

  it('probes /readyz for readiness and /healthz for liveness, with memory sized from the measured RSS', () => {
    const deployment = find('Deployment', 'imagesearch');
    const [container] = deployment.spec.template.spec.containers;
    expect(container.readinessProbe.httpGet.path).toBe('/readyz');
    expect(container.livenessProbe.httpGet.path).toBe('/healthz');
    expect(container.startupProbe.httpGet.path).toBe('/healthz');
    expect(container.command).toEqual([
      '/usr/bin/tini',
      '--',
      'node',
      'bin/imagesearch.js',
      'serve',
      '--no-setup',
    ]);
    // Peak RSS measured by the bench with both encoders and the 25K index: up to 1.30 GB.
    const mib = (q: string) => Number(/^(\d+)Mi$/.exec(q)?.[1] ?? Number(/^(\d+)Gi$/.exec(q)?.[1]) * 1024);
    expect(mib(container.resources.requests.memory) * 2 ** 20).toBeGreaterThan(1.3e9);
    expect(mib(container.resources.limits.memory)).toBeGreaterThanOrEqual(
      mib(container.resources.requests.memory),
    );
    expect(deployment.spec.strategy.rollingUpdate).toEqual({ maxSurge: 1, maxUnavailable: 0 });
    // The graceful stop (10 s drain) fits in the grace period, after the preStop pause.
    expect(deployment.spec.template.spec.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(20);
  });

  it('scales 1–5 with an autoscaler, and the budget, the Service and the policy select the bot pods', () => {
    const deployment = find('Deployment', 'imagesearch');
    const podLabels = deployment.spec.template.metadata.labels as Record<string, string>;
    const selects = (selector: Record<string, string>) =>
      Object.entries(selector).every(([k, v]) => podLabels[k] === v);
    const hpa = find('HorizontalPodAutoscaler');
    expect([hpa.spec.minReplicas, hpa.spec.maxReplicas]).toEqual([1, 5]);
    expect(hpa.spec.scaleTargetRef).toEqual({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      name: 'imagesearch',
    });
    expect(deployment.spec.replicas).toBeUndefined();
    expect(selects(deployment.spec.selector.matchLabels)).toBe(true);
    expect(selects(find('PodDisruptionBudget').spec.selector.matchLabels)).toBe(true);
    expect(selects(find('Service', 'imagesearch').spec.selector)).toBe(true);
    expect(selects(find('NetworkPolicy').spec.podSelector.matchLabels)).toBe(true);
    const ports = deployment.spec.template.spec.containers[0].ports as { name: string }[];
    for (const p of find('Service', 'imagesearch').spec.ports as { targetPort: string }[])
      expect(ports.map((c) => c.name)).toContain(p.targetPort);
  });

  it('runs setup in a Job that writes the volume the replicas read, and points STATE_URL at the Redis Service', () => {
    const deployment = find('Deployment', 'imagesearch');
    const job = find('Job', 'imagesearch-setup');
    const config = find('ConfigMap', 'imagesearch-config').data as Record<string, string>;
    const volumeAt = (spec: Manifest['spec'], dir: string) => {
      const mount = spec.containers[0].volumeMounts.find((m: { mountPath: string }) => m.mountPath === dir);
      return spec.volumes.find((v: { name: string }) => v.name === mount?.name)?.persistentVolumeClaim
        ?.claimName;
    };
    expect(job.spec.template.spec.containers[0].command.slice(-2)).toEqual(['bin/imagesearch.js', 'setup']);
    const claim = volumeAt(job.spec.template.spec, config.IMAGESEARCH_DATA_DIR ?? '');
    expect(claim).toBe(find('PersistentVolumeClaim').metadata.name);
    expect(volumeAt(deployment.spec.template.spec, config.IMAGESEARCH_DATA_DIR ?? '')).toBe(claim);
    expect(find('PersistentVolumeClaim').spec.accessModes).toEqual(['ReadWriteMany']);
    const redis = find('Service', 'redis');
    expect(config.STATE_URL).toBe(`redis://${redis.metadata.name}:${redis.spec.ports[0].port}`);
  });

  it('has a ConfigMap and Secret the bot accepts, with /metrics on the port Prometheus scrapes', () => {
    const config = find('ConfigMap', 'imagesearch-config').data as Record<string, string>;
    const secret = find('Secret', 'imagesearch-secrets').stringData as Record<string, string>;
    const loaded = loadConfig({ ...config, ...secret });
    expect(loaded.host).toBe('0.0.0.0');
    expect(loaded.webChat).toBe(false);
    const deployment = find('Deployment', 'imagesearch');
    const metricsPort = deployment.spec.template.spec.containers[0].ports.find(
      (p: { name: string }) => p.name === 'metrics',
    ).containerPort;
    expect(loaded.metricsPort).toBe(metricsPort);
    expect(Number(deployment.spec.template.metadata.annotations['prometheus.io/port'])).toBe(metricsPort);
    expect(kustomization.namespace).toBe(find('Namespace').metadata.name);
  });
});
