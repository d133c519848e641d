// The rules the seed systems showed missing (hosts, image entries, selectors, references): each
// fires on the real rendered overlays with one thing broken by hand, with the field path; the
// clean repository keeps them quiet (test/rules.test.ts runs every registered rule on it too).
import { beforeAll, describe, expect, it } from "vitest";
import { gatherInputs } from "../tools/check/inputs.ts";
import { repoPaths } from "../tools/core/paths.ts";
import { FIXTURE_ROOT } from "./support/repo.ts";
import type { KubeObject } from "../tools/core/yaml.ts";
import { declaredHosts, hostDeclared, hostRules } from "../tools/rules/hosts.ts";
import { containerImages, imageRules } from "../tools/rules/images.ts";
import { referenceRules } from "../tools/rules/references.ts";
import { selectorRules } from "../tools/rules/selectors.ts";
import type { Rule, RuleContext } from "../tools/rules/types.ts";
import type { Environment } from "../tools/spec/schema.ts";

let clean: RuleContext;

beforeAll(async () => {
  const inputs = await gatherInputs(FIXTURE_ROOT, repoPaths(FIXTURE_ROOT).spec);
  expect(inputs.findings).toEqual([]);
  clean = inputs.context!;
});

const fixture = (): RuleContext => structuredClone(clean);

function obj(ctx: RuleContext, env: string, kind: string, name: string): KubeObject {
  const e = ctx.environments.find((x) => x.env === env)!;
  const found = [...e.layers.app!, ...e.layers.data!].find((o) => o.object.kind === kind && o.object.metadata?.name === name);
  if (!found) throw new Error(`fixture: no ${kind}/${name} in ${env}`);
  return found.object;
}

type Any = Record<string, any>;
const spec = (o: KubeObject) => o.spec as Any;
const pod = (o: KubeObject) => (o.spec as Any).template.spec as Any;
const fire = (rule: Rule, ctx: RuleContext) => rule(ctx).map((f) => ({ rule: f.rule, env: f.env, object: f.object, path: f.path }));

const families: Record<string, Record<string, Rule>> = { hosts: hostRules, images: imageRules, selectors: selectorRules, references: referenceRules };

describe("on the clean repository", () => {
  it.each(Object.entries(families).flatMap(([family, rules]) => Object.keys(rules).map((name) => [`${family}/${name}`, rules[name]!] as const)))("%s stays quiet", (_, rule) => {
    expect(rule(clean)).toEqual([]);
  });
});

describe("hosts/declared", () => {
  it("staging serving production's host in a rule and in TLS", () => {
    const ctx = fixture();
    const prodHost = ctx.spec.environments.prod!.host;
    const ingress = spec(obj(ctx, "staging", "Ingress", "ringlet-web"));
    ingress.rules.push({ ...structuredClone(ingress.rules[0]), host: prodHost });
    ingress.tls[0].hosts.push(prodHost);
    const found = hostRules.declared!(ctx);
    expect(found.map((f) => [f.env, f.object, f.path])).toEqual([
      ["staging", "Ingress/ringlet-web", "spec.rules[1].host"],
      ["staging", "Ingress/ringlet-web", "spec.tls[0].hosts[1]"],
    ]);
    expect(found[0]!.message).toContain("it is prod's");
  });
  it("takes a list of hosts where a spec declares one, and wildcards cover one label", () => {
    const env = { host: "a.example.com", hosts: { "b.base.example": "b.example.com", "*.apps.base.example": "*.apps.example.com" } } as unknown as Environment;
    expect(declaredHosts(env)).toEqual(["a.example.com", "b.example.com", "*.apps.example.com"]);
    expect(hostDeclared("b.example.com", declaredHosts(env))).toBe(true);
    expect(hostDeclared("x.apps.example.com", declaredHosts(env))).toBe(true);
    expect(hostDeclared("x.y.apps.example.com", declaredHosts(env))).toBe(false);
    expect(hostDeclared("c.example.com", declaredHosts(env))).toBe(false);
    const ctx = fixture();
    (ctx.spec.environments.dev as Any).hosts = ["api.dev.example.com"];
    spec(obj(ctx, "dev", "Ingress", "ringlet-web")).rules[0].host = "api.dev.example.com";
    spec(obj(ctx, "dev", "Ingress", "ringlet-web")).tls[0].hosts[0] = "api.dev.example.com";
    expect(hostRules.declared!(ctx)).toEqual([]);
  });
});

describe("images/unapplied", () => {
  it("an entry whose name no container runs (a renamed registry) changes nothing", () => {
    const ctx = fixture();
    const k = ctx.kustomizations.find((x) => x.env === "staging" && x.layer === "app")!;
    (k.value.images as Any[])[0]!.name = "registry.example.com/ringlet/ringlet";
    const found = imageRules.unapplied!(ctx);
    expect(found.map((f) => [f.env, f.file, f.path])).toEqual([["staging", "overlays/staging/kustomization.yaml", "images[0]"]]);
    expect(found[0]!.message).toContain("kustomize ignores the entry");
  });
  it("an entry whose tag no container runs", () => {
    const ctx = fixture();
    for (const kind of ["Deployment", "Job"]) {
      for (const o of ctx.environments.find((e) => e.env === "dev")!.layers.app!.filter((x) => x.object.kind === kind)) {
        for (const c of [...(pod(o.object).containers ?? []), ...(pod(o.object).initContainers ?? [])]) c.image = c.image.replace(/:[^:/]+$/, ":v0.0.1");
      }
    }
    expect(fire(imageRules.unapplied!, ctx).map((f) => [f.env, f.path])).toEqual([["dev", "images[0]"]]);
  });
});

describe("images/unapplied: where kustomize changes images", () => {
  it("containers at any depth (a custom resource's too), not other image fields", () => {
    expect(containerImages({ spec: { deep: { containers: [{ name: "a", image: "x/y:1" }], initContainers: [{ name: "b", image: "x/z:2" }] }, other: { image: "x/w:3" } } })).toEqual(["x/y:1", "x/z:2"]);
    const ctx = fixture();
    const dev = ctx.environments.find((e) => e.env === "dev")!;
    const k = ctx.kustomizations.find((x) => x.env === "dev" && x.layer === "app")!;
    const entry = (k.value.images as Any[])[0]!;
    dev.layers.app! = dev.layers.app!.filter((o) => !["Deployment", "Job"].includes(o.object.kind ?? ""));
    expect(imageRules.unapplied!(ctx).map((f) => f.path)).toEqual(["images[0]"]);
    const job = { apiVersion: "keda.sh/v1alpha1", kind: "ScaledJob", metadata: { name: "j" }, spec: { jobTargetRef: { template: { spec: { containers: [{ name: "j", image: `${entry.name}:${entry.newTag}` }] } } } } };
    dev.layers.app!.push({ env: "dev", layer: "app", source: "overlays/dev", object: job });
    expect(imageRules.unapplied!(ctx)).toEqual([]);
  });
});

describe("selectors", () => {
  it("shared-pods: the worker's selector also selects the web pods", () => {
    const ctx = fixture();
    spec(obj(ctx, "dev", "Deployment", "ringlet-worker")).selector = { matchLabels: { "app.kubernetes.io/component": "web" } };
    const found = selectorRules["shared-pods"]!(ctx);
    expect(found.map((f) => [f.env, f.object, f.path])).toEqual([["dev", "Deployment/ringlet-worker", "spec.selector"]]);
    expect(found[0]!.message).toContain("selects the pods of Deployment/ringlet-web too");
  });
  it("overlapping-budgets: a second PDB over the web pods", () => {
    const ctx = fixture();
    const pdb = structuredClone(obj(ctx, "prod", "PodDisruptionBudget", "ringlet-web"));
    pdb.metadata!.name = "ringlet-web-extra";
    ctx.environments.find((e) => e.env === "prod")!.layers.app!.push({ env: "prod", layer: "app", source: "overlays/prod", object: pdb });
    expect(fire(selectorRules["overlapping-budgets"]!, ctx)).toEqual([{ rule: "selectors/overlapping-budgets", env: "prod", object: "PodDisruptionBudget/ringlet-web-extra", path: "spec.selector" }]);
  });
  it("affinity: an anti-affinity term with a misspelt label selects nothing; the right one is fine", () => {
    const ctx = fixture();
    const term = (component: string) => ({ topologyKey: "kubernetes.io/hostname", labelSelector: { matchLabels: { "app.kubernetes.io/name": "ringlet", "app.kubernetes.io/component": component } } });
    pod(obj(ctx, "prod", "Deployment", "ringlet-web")).affinity = { podAntiAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 100, podAffinityTerm: term("web") }] } };
    expect(selectorRules.affinity!(ctx)).toEqual([]);
    pod(obj(ctx, "prod", "Deployment", "ringlet-web")).affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution = [term("webb")];
    expect(fire(selectorRules.affinity!, ctx)).toEqual([
      { rule: "selectors/affinity", env: "prod", object: "Deployment/ringlet-web", path: "spec.template.spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].labelSelector" },
    ]);
  });
});

describe("references", () => {
  it("config: a Secret no Application of the environment creates, unless the reference is optional", () => {
    const ctx = fixture();
    const env = pod(obj(ctx, "staging", "Deployment", "ringlet-web")).containers[0].env as Any[];
    const i = env.findIndex((e) => e.valueFrom?.secretKeyRef);
    env[i]!.valueFrom.secretKeyRef.name = "ringlet-db-credential";
    expect(fire(referenceRules.config!, ctx)).toEqual([
      { rule: "references/config", env: "staging", object: "Deployment/ringlet-web", path: `spec.template.spec.containers[0].env[${i}].valueFrom.secretKeyRef.name` },
    ]);
    env[i]!.valueFrom.secretKeyRef.optional = true;
    expect(fire(referenceRules.config!, ctx)).toEqual([]);
  });
  it("config: removing the data Application's ExternalSecret breaks every reader of its Secret", () => {
    const ctx = fixture();
    const dev = ctx.environments.find((e) => e.env === "dev")!;
    dev.layers.data! = dev.layers.data!.filter((o) => !(o.object.kind === "ExternalSecret" && o.object.metadata?.name === "ringlet-django"));
    const found = fire(referenceRules.config!, ctx);
    expect(found.length).toBeGreaterThan(0);
    expect(new Set(found.map((f) => f.env))).toEqual(new Set(["dev"]));
    expect(found.every((f) => /\.(secretKeyRef\.name|secretRef\.name|secretName)$/.test(f.path))).toBe(true);
  });
  it("config: the TLS Secret cert-manager writes for an annotated Ingress counts as created", () => {
    const ctx = fixture();
    const tls = spec(obj(ctx, "prod", "Ingress", "ringlet-web")).tls[0].secretName as string;
    pod(obj(ctx, "prod", "Deployment", "ringlet-web")).volumes.push({ name: "tls", secret: { secretName: tls } });
    expect(fire(referenceRules.config!, ctx)).toEqual([]);
    delete obj(ctx, "prod", "Ingress", "ringlet-web").metadata!.annotations!["cert-manager.io/cluster-issuer"];
    expect(fire(referenceRules.config!, ctx).map((f) => f.path)).toEqual([expect.stringMatching(/^spec\.template\.spec\.volumes\[\d+\]\.secret\.secretName$/)]);
  });
  it("probe-port: a misspelt named port and an undeclared number", () => {
    const ctx = fixture();
    const c = pod(obj(ctx, "dev", "Deployment", "ringlet-web")).containers[0];
    c.readinessProbe.httpGet.port = "htp";
    c.livenessProbe.httpGet.port = 9999;
    const found = referenceRules["probe-port"]!(ctx);
    expect(found.map((f) => f.path)).toEqual(["spec.template.spec.containers[0].livenessProbe.httpGet.port", "spec.template.spec.containers[0].readinessProbe.httpGet.port"]);
    expect(found[1]!.message).toContain('no port "htp"');
  });
  it("probe-port: a number on a container that declares no ports is not a finding, a name is", () => {
    const ctx = fixture();
    const c = pod(obj(ctx, "dev", "Deployment", "ringlet-web")).containers[0];
    delete c.ports;
    c.livenessProbe.httpGet.port = 8000;
    c.readinessProbe.httpGet.port = 8000;
    expect(referenceRules["probe-port"]!(ctx)).toEqual([]);
    c.readinessProbe.httpGet.port = "http";
    expect(referenceRules["probe-port"]!(ctx).map((f) => f.path)).toEqual(["spec.template.spec.containers[0].readinessProbe.httpGet.port"]);
  });
});
