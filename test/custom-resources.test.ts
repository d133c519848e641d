// Rules that know the custom resources of Argo Rollouts, KEDA, Sealed Secrets and External
// Secrets. A small environment (not Ringlet's) that every rule passes, then broken once per case.
import { beforeAll, describe, expect, it } from "vitest";
import { readCrdFiles, selectCrds } from "../tools/check/crds.ts";
import { FIXTURE_ROOT } from "./support/repo.ts";
import type { KubeObject } from "../tools/core/yaml.ts";
import { argocdRules } from "../tools/rules/argocd.ts";
import { customResourceRules } from "../tools/rules/custom-resources.ts";
import { policyRules } from "../tools/rules/policy.ts";
import { schemaRule } from "../tools/rules/schema.ts";
import type { Rule, RuleContext, VendoredCrd } from "../tools/rules/types.ts";
import type { Spec } from "../tools/spec/schema.ts";

type Loose = Record<string, any>;

const container = (name: string, image = "ghcr.io/acme/payments:v1.2.3"): Loose => ({
  name,
  image,
  ports: [{ name: "http", containerPort: 8080 }],
  resources: { requests: { cpu: "100m", memory: "128Mi" }, limits: { cpu: "500m", memory: "256Mi" } },
  securityContext: { runAsNonRoot: true, allowPrivilegeEscalation: false },
  readinessProbe: { httpGet: { path: "/ready", port: "http" } },
  livenessProbe: { httpGet: { path: "/live", port: 8080 } },
});

const template = (app: string): Loose => ({ metadata: { labels: { app } }, spec: { containers: [container(app)] } });

const service = (name: string, app: string): Loose => ({
  apiVersion: "v1",
  kind: "Service",
  metadata: { name },
  spec: { selector: { app }, ports: [{ name: "http", port: 80, targetPort: "http" }] },
});

/** An environment every rule of this file passes. */
function objects(): Loose[] {
  return [
    {
      apiVersion: "argoproj.io/v1alpha1",
      kind: "Rollout",
      metadata: { name: "payments" },
      spec: {
        selector: { matchLabels: { app: "payments" } },
        template: template("payments"),
        strategy: { blueGreen: { activeService: "payments-active", previewService: "payments-preview", autoPromotionEnabled: false } },
      },
    },
    service("payments-active", "payments"),
    service("payments-preview", "payments"),
    {
      apiVersion: "autoscaling/v2",
      kind: "HorizontalPodAutoscaler",
      metadata: { name: "payments-hpa" },
      spec: {
        scaleTargetRef: { apiVersion: "argoproj.io/v1alpha1", kind: "Rollout", name: "payments" },
        minReplicas: 2,
        maxReplicas: 6,
        metrics: [{ type: "Resource", resource: { name: "cpu", target: { type: "Utilization", averageUtilization: 70 } } }],
      },
    },
    { apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "analysis" }, spec: { selector: { matchLabels: { app: "analysis" } }, template: template("analysis") } },
    {
      apiVersion: "keda.sh/v1alpha1",
      kind: "ScaledObject",
      metadata: { name: "analysis" },
      spec: { scaleTargetRef: { name: "analysis" }, minReplicaCount: 0, maxReplicaCount: 100, triggers: [{ type: "redis", metadata: { address: "redis:6379", listName: "jobs", listLength: "5" } }] },
    },
    { apiVersion: "bitnami.com/v1alpha1", kind: "SealedSecret", metadata: { name: "payments-db" }, spec: { encryptedData: { password: "AgBy8hCi" } } },
  ];
}

const SPEC = { components: {}, environments: { dev: {} } } as unknown as Spec;

function context(list: Loose[], crds: VendoredCrd[] = []): RuleContext {
  return {
    spec: SPEC,
    specFile: "overlays/environments.yaml",
    environments: [{ env: "dev", layers: { app: list.map((object) => ({ env: "dev", layer: "app", object: object as KubeObject, source: "overlays/dev" })), data: [] } }],
    argocd: [],
    kustomizations: [],
    crds,
  };
}

let crds: VendoredCrd[];
beforeAll(async () => {
  crds = selectCrds(await readCrdFiles(FIXTURE_ROOT), objects() as KubeObject[]).crds;
});

const every: Record<string, Rule> = { schema: schemaRule, ...policyRules, ...customResourceRules };
const fire = (rule: Rule, list: Loose[]) => rule(context(list, crds)).map((f) => ({ rule: f.rule, object: f.object, path: f.path }));
const find = (list: Loose[], kind: string, name: string) => list.find((o) => o.kind === kind && o.metadata.name === name)!;

describe("the custom resources of a valid environment", () => {
  it.each(Object.keys(every))("%s stays quiet", (name) => {
    expect(every[name]!(context(objects(), crds))).toEqual([]);
  });
});

describe("the schema rule validates custom resources against the vendored CRDs", () => {
  it("an unknown field of a ScaledObject, with its file and path; no CRDs, no schema", () => {
    const list = objects();
    find(list, "ScaledObject", "analysis").spec.cooldownPeriods = 30;
    expect(fire(schemaRule, list)).toEqual([{ rule: "schema/unknown-field", object: "ScaledObject/analysis", path: "spec.cooldownPeriods" }]);
    expect(schemaRule(context(objects())).map((f) => [f.rule, f.object])).toEqual([
      ["schema/unknown-kind", "Rollout/payments"],
      ["schema/unknown-kind", "ScaledObject/analysis"],
      ["schema/unknown-kind", "SealedSecret/payments-db"],
    ]);
  });
  it("a CRD rendered by the overlay itself counts too", () => {
    const list = [...objects(), ...crds.map((c) => structuredClone(c.object) as Loose)];
    find(list, "SealedSecret", "payments-db").spec.encryptedData = "not a map";
    expect(schemaRule(context(list)).map((f) => [f.rule, f.object, f.path])).toEqual([["schema/invalid", "SealedSecret/payments-db", "spec.encryptedData"]]);
  });
});

describe("a Rollout's pods get the policy of a Deployment's", () => {
  it("resources, security and probes fire on its template", () => {
    const list = objects();
    const c = find(list, "Rollout", "payments").spec.template.spec.containers[0];
    delete c.resources.limits.memory;
    c.securityContext.allowPrivilegeEscalation = true;
    delete c.readinessProbe;
    const at = "spec.template.spec.containers[0]";
    expect(fire(policyRules.resources!, list)).toEqual([{ rule: "policy/resources", object: "Rollout/payments", path: `${at}.resources.limits.memory` }]);
    expect(fire(policyRules.security!, list)).toEqual([{ rule: "policy/security", object: "Rollout/payments", path: `${at}.securityContext.allowPrivilegeEscalation` }]);
    expect(fire(policyRules.probes!, list)).toEqual([{ rule: "policy/probes", object: "Rollout/payments", path: `${at}.readinessProbe` }]);
  });
  it("an HPA scaling a Rollout that sets replicas, and one scaling a Rollout that is not there", () => {
    const list = objects();
    find(list, "Rollout", "payments").spec.replicas = 3;
    expect(fire(policyRules.autoscaler!, list)).toEqual([{ rule: "policy/autoscaler", object: "Rollout/payments", path: "spec.replicas" }]);
    find(list, "Rollout", "payments").spec.replicas = undefined;
    find(list, "HorizontalPodAutoscaler", "payments-hpa").spec.scaleTargetRef.apiVersion = "apps/v1";
    expect(fire(policyRules.autoscaler!, list)).toEqual([{ rule: "policy/autoscaler", object: "HorizontalPodAutoscaler/payments-hpa", path: "spec.scaleTargetRef.apiVersion" }]);
    find(list, "HorizontalPodAutoscaler", "payments-hpa").spec.scaleTargetRef.name = "paymnts";
    expect(fire(policyRules.autoscaler!, list)).toEqual([{ rule: "policy/autoscaler", object: "HorizontalPodAutoscaler/payments-hpa", path: "spec.scaleTargetRef" }]);
  });
});

describe("rollout rule", () => {
  it("a strategy Service that is not rendered, and one selecting other pods", () => {
    const list = objects();
    find(list, "Rollout", "payments").spec.strategy.blueGreen.previewService = "payments-peview";
    find(list, "Service", "payments-active").spec.selector = { app: "analysis" };
    const found = customResourceRules.rollout!(context(list, crds));
    expect(found.map((f) => f.path)).toEqual(["spec.strategy.blueGreen.activeService", "spec.strategy.blueGreen.previewService"]);
    expect(found[0]!.message).toContain("does not select this Rollout's pods");
    expect(found[1]!.message).toContain("payments-peview is not rendered");
  });
  it("canary Services and the NGINX stable Ingress", () => {
    const list = objects();
    find(list, "Rollout", "payments").spec.strategy = {
      canary: { canaryService: "payments-preview", stableService: "payments-stable", trafficRouting: { nginx: { stableIngress: "payments" } }, steps: [{ setWeight: 20 }] },
    };
    expect(fire(customResourceRules.rollout!, list).map((f) => f.path)).toEqual(["spec.strategy.canary.stableService", "spec.strategy.canary.trafficRouting.nginx.stableIngress"]);
  });
  it("a workloadRef to a Deployment that is not there", () => {
    const list = objects();
    const spec = find(list, "Rollout", "payments").spec;
    delete spec.template;
    spec.workloadRef = { apiVersion: "apps/v1", kind: "Deployment", name: "payments" };
    expect(fire(customResourceRules.rollout!, list).map((f) => f.path)).toEqual(["spec.workloadRef"]);
  });
});

describe("scaled-object rule", () => {
  it("a Rollout target without its apiVersion (KEDA defaults to apps/v1)", () => {
    const list = objects();
    find(list, "ScaledObject", "analysis").spec.scaleTargetRef = { kind: "Rollout", name: "payments" };
    find(list, "HorizontalPodAutoscaler", "payments-hpa").spec.scaleTargetRef.name = "analysis";
    find(list, "HorizontalPodAutoscaler", "payments-hpa").spec.scaleTargetRef.kind = "Deployment";
    find(list, "HorizontalPodAutoscaler", "payments-hpa").spec.scaleTargetRef.apiVersion = "apps/v1";
    expect(fire(customResourceRules["scaled-object"]!, list)).toEqual([{ rule: "custom-resources/scaled-object", object: "ScaledObject/analysis", path: "spec.scaleTargetRef.apiVersion" }]);
  });
  it("a scale target that is not rendered", () => {
    const list = objects();
    find(list, "ScaledObject", "analysis").spec.scaleTargetRef = { kind: "StatefulSet", name: "analysis" };
    expect(fire(customResourceRules["scaled-object"]!, list)).toEqual([{ rule: "custom-resources/scaled-object", object: "ScaledObject/analysis", path: "spec.scaleTargetRef" }]);
  });
  it("a target that an HPA scales too, bounds out of order, replicas set, a cpu trigger without requests", () => {
    const list = objects();
    list.push({ apiVersion: "autoscaling/v2", kind: "HorizontalPodAutoscaler", metadata: { name: "analysis" }, spec: { scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: "analysis" }, minReplicas: 1, maxReplicas: 3 } });
    const so = find(list, "ScaledObject", "analysis").spec;
    so.minReplicaCount = 5;
    so.maxReplicaCount = 2;
    so.triggers.push({ type: "cpu", metricType: "Utilization", metadata: { value: "60" } });
    const deployment = find(list, "Deployment", "analysis").spec;
    deployment.replicas = 1;
    delete deployment.template.spec.containers[0].resources.requests.cpu;
    const found = customResourceRules["scaled-object"]!(context(list, crds));
    expect(found.map((f) => [f.object, f.path])).toEqual([
      ["ScaledObject/analysis", "spec.scaleTargetRef"],
      ["ScaledObject/analysis", "spec.minReplicaCount"],
      ["Deployment/analysis", "spec.replicas"],
      ["Deployment/analysis", "spec.template.spec.containers[0].resources.requests.cpu"],
    ]);
    expect(found[0]!.message).toContain("HorizontalPodAutoscaler/analysis");
  });
  it("a singleton scaled by a ScaledObject", () => {
    const list = objects();
    const spec = { ...SPEC, components: { analysis: { workload: { kind: "Deployment", name: "analysis" }, container: "analysis", singleton: true } } } as unknown as Spec;
    const deployment = find(list, "Deployment", "analysis").spec;
    deployment.replicas = 1;
    deployment.strategy = { type: "Recreate" };
    const found = policyRules.singleton!({ ...context(list, crds), spec });
    expect(found.map((f) => [f.object, f.path])).toEqual([["ScaledObject/analysis", "spec.scaleTargetRef"]]);
  });
});

describe("the Secrets that SealedSecrets and ExternalSecrets create count as created", () => {
  const hook = (secret: string): Loose => ({
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: { name: "migrate", annotations: { "argocd.argoproj.io/hook": "PreSync", "argocd.argoproj.io/hook-delete-policy": "BeforeHookCreation" } },
    spec: { template: { spec: { restartPolicy: "Never", containers: [{ ...container("migrate"), env: [{ name: "PASSWORD", valueFrom: { secretKeyRef: { name: secret, key: "password" } } }] }] } } },
  });
  it("a PreSync hook reading the SealedSecret's Secret from its own Application is a finding", () => {
    const found = argocdRules["presync-dependency"]!(context([...objects(), hook("payments-db")], crds));
    expect(found.map((f) => [f.object, f.path])).toEqual([["Job/migrate", "spec.template.spec.containers[0].env[0].valueFrom.secretKeyRef.name"]]);
  });
  it("external-secret: a namespaced SecretStore that is not rendered; a rendered one or a ClusterSecretStore is fine", () => {
    const es: Loose = { apiVersion: "external-secrets.io/v1", kind: "ExternalSecret", metadata: { name: "db" }, spec: { secretStoreRef: { name: "gcp" }, target: { name: "db" }, data: [] } };
    expect(fire(customResourceRules["external-secret"]!, [es])).toEqual([{ rule: "custom-resources/external-secret", object: "ExternalSecret/db", path: "spec.secretStoreRef.name" }]);
    const store: Loose = { apiVersion: "external-secrets.io/v1", kind: "SecretStore", metadata: { name: "gcp" }, spec: {} };
    expect(fire(customResourceRules["external-secret"]!, [es, store])).toEqual([]);
    es.spec.secretStoreRef.kind = "ClusterSecretStore";
    expect(fire(customResourceRules["external-secret"]!, [es])).toEqual([]);
  });
  it("an ExternalSecret with creationPolicy Merge creates nothing", () => {
    const es = (creationPolicy: string): Loose => ({
      apiVersion: "external-secrets.io/v1",
      kind: "ExternalSecret",
      metadata: { name: "db" },
      spec: { secretStoreRef: { kind: "ClusterSecretStore", name: "store" }, target: { name: "db-credentials", creationPolicy }, data: [] },
    });
    const rule = argocdRules["presync-dependency"]!;
    expect(rule(context([es("Owner"), hook("db-credentials")])).map((f) => f.object)).toEqual(["Job/migrate"]);
    expect(rule(context([es("Merge"), hook("db-credentials")]))).toEqual([]);
  });
});
