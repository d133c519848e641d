// Custom resources are validated against the CRDs the repository vendors (crds/), as strictly as
// built-in kinds: each fixture is a small object valid against the upstream CRD, then broken once.
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { readCrdFiles, selectCrds, type CrdFile } from "../tools/check/crds.ts";
import { FIXTURE_ROOT } from "./support/repo.ts";
import type { KubeObject } from "../tools/core/yaml.ts";
import { toJsonSchema } from "../tools/rules/crd-schema.ts";
import { hasPackagedSchema, validateStrict } from "../tools/rules/schema.ts";

type Loose = Record<string, any>;

const podTemplate = (): Loose => ({
  metadata: { labels: { app: "payments" } },
  spec: {
    containers: [{ name: "app", image: "ghcr.io/acme/payments:v1.2.3", ports: [{ name: "http", containerPort: 8080 }], resources: { requests: { cpu: "100m", memory: "128Mi" } } }],
  },
});

function rollout(): Loose {
  return {
    apiVersion: "argoproj.io/v1alpha1",
    kind: "Rollout",
    metadata: { name: "payments", labels: { app: "payments" } },
    spec: {
      replicas: 2,
      revisionHistoryLimit: 3,
      selector: { matchLabels: { app: "payments" } },
      template: podTemplate(),
      strategy: { blueGreen: { activeService: "payments-active", previewService: "payments-preview", autoPromotionEnabled: false, scaleDownDelaySeconds: 30 } },
    },
  };
}

function scaledObject(): Loose {
  return {
    apiVersion: "keda.sh/v1alpha1",
    kind: "ScaledObject",
    metadata: { name: "analysis-worker" },
    spec: {
      scaleTargetRef: { name: "analysis-worker" },
      minReplicaCount: 0,
      maxReplicaCount: 200,
      triggers: [{ type: "redis", metadata: { address: "redis:6379", listName: "analysis", listLength: "5" } }],
    },
  };
}

function sealedSecret(): Loose {
  return {
    apiVersion: "bitnami.com/v1alpha1",
    kind: "SealedSecret",
    metadata: { name: "payments-db" },
    spec: {
      encryptedData: { password: "AgBy8hCi...", username: "AgCtr5..." },
      template: { metadata: { name: "payments-db", labels: { app: "payments" } }, type: "Opaque" },
    },
  };
}

let files: CrdFile[];
let crds: KubeObject[];

beforeAll(async () => {
  files = await readCrdFiles(FIXTURE_ROOT);
  crds = selectCrds(files, [rollout(), scaledObject(), sealedSecret()] as KubeObject[]).crds.map((c) => c.object);
});

const problems = (o: Loose) => validateStrict(o as KubeObject, crds).map(({ path, reason }) => ({ path, reason }));

describe("vendored CRDs", () => {
  it("are found for the kinds rendered, and only for those", () => {
    expect(selectCrds(files, [rollout()] as KubeObject[]).crds.map((c) => c.source)).toEqual(["crds/argoproj.io_rollouts.yaml"]);
    // ExternalSecret has a vendored CRD (for its defaults), but the schema package answers for it.
    const builtin = [{ apiVersion: "apps/v1", kind: "Deployment" }, { apiVersion: "external-secrets.io/v1", kind: "ExternalSecret" }];
    expect(selectCrds(files, builtin, hasPackagedSchema).crds).toEqual([]);
    expect(selectCrds(files, builtin).crds.map((c) => c.source)).toEqual(["crds/external-secrets.io_externalsecrets.yaml"]);
  });
  it("a repository's own CRD comes before the ones the tools ship, and wins", async () => {
    const root = await mkdtemp(join(tmpdir(), "crds-"));
    try {
      const own = files.find((f) => f.source === "crds/bitnami.com_sealedsecrets.yaml")!.text.replace("- encryptedData\n", "- encryptedData\n            - template\n");
      await mkdir(join(root, "crds", "bitnami"), { recursive: true });
      await writeFile(join(root, "crds", "bitnami", "sealed.yaml"), own);
      const found = await readCrdFiles(root);
      expect(found[0]!.source).toBe("crds/bitnami/sealed.yaml");
      expect(found.length).toBe(files.length + 1);
      const chosen = selectCrds(found, [sealedSecret()] as KubeObject[]).crds.map((c) => c.object);
      const o = sealedSecret();
      delete o.spec.template;
      expect(validateStrict(o as KubeObject, chosen).map((p) => p.path)).toEqual(["spec.template"]);
      expect(validateStrict(o as KubeObject, crds)).toEqual([]);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
  it("a CRD file that is not YAML is a finding with its file and line", () => {
    const found = selectCrds([{ source: "crds/broken.yaml", text: "kind: Rollout\nspec: [\n" }], [rollout()] as KubeObject[]);
    expect(found.crds).toEqual([]);
    expect(found.findings.map((f) => [f.rule, f.file])).toEqual([["yaml/parse", "crds/broken.yaml"]]);
  });
  it("without them, the kinds are unknown", () => {
    expect(validateStrict(rollout() as KubeObject).map((p) => p.reason)).toEqual(["unknown-kind"]);
  });
  it.each([
    ["Rollout", rollout],
    ["ScaledObject", scaledObject],
    ["SealedSecret", sealedSecret],
  ])("a valid %s has no problems", (_, make) => {
    expect(problems(make())).toEqual([]);
  });
});

describe("custom resources are validated strictly", () => {
  it("Rollout: an unknown field in the strategy and in the pod template", () => {
    const o = rollout();
    o.spec.strategy.blueGreen.activeServce = "x";
    o.spec.template.spec.containers[0].imagePullPolicyy = "Always";
    const found = validateStrict(o as KubeObject, crds);
    expect(found.map(({ path, reason }) => ({ path, reason }))).toEqual([
      { path: "spec.strategy.blueGreen.activeServce", reason: "unknown-field" },
      { path: "spec.template.spec.containers[0].imagePullPolicyy", reason: "unknown-field" },
    ]);
    expect(found[0]!.message).toContain('did you mean "activeService"');
  });
  it("Rollout: a wrong type, a missing required field, and int-or-string accepting only both", () => {
    const o = rollout();
    o.spec.replicas = "two";
    delete o.spec.template.spec.containers[0].name;
    o.spec.template.spec.containers[0].ports[0].containerPort = 8080;
    o.spec.strategy = { canary: { maxSurge: "25%", maxUnavailable: 0, steps: [{ setWeight: 20 }, { pause: { duration: "1h" } }] } };
    expect(problems(o)).toEqual([
      { path: "spec.replicas", reason: "invalid" },
      { path: "spec.template.spec.containers[0].name", reason: "invalid" },
    ]);
    o.spec.replicas = 2;
    o.spec.template.spec.containers[0].name = "app";
    o.spec.strategy.canary.maxSurge = true;
    const found = validateStrict(o as KubeObject, crds);
    expect(found.map((p) => [p.path, p.message])).toEqual([["spec.strategy.canary.maxSurge", "expected integer or string, got boolean true"]]);
  });
  it("Rollout: metadata is checked as an ObjectMeta", () => {
    const o = rollout();
    o.metadata.lables = { app: "payments" };
    o.spec.template.metadata.annotation = { a: "b" };
    expect(problems(o)).toEqual([
      { path: "metadata.lables", reason: "unknown-field" },
      { path: "spec.template.metadata.annotation", reason: "unknown-field" },
    ]);
  });
  it("ScaledObject: an unknown field, a wrong enum-free type, and the root's unknown field", () => {
    const o = scaledObject();
    o.spec.minReplicas = 0;
    o.spec.maxReplicaCount = "200";
    o.extra = true;
    expect(problems(o)).toEqual([
      { path: "spec.maxReplicaCount", reason: "invalid" },
      { path: "extra", reason: "unknown-field" },
      { path: "spec.minReplicas", reason: "unknown-field" },
    ]);
  });
  it("ScaledObject: trigger metadata is a map of strings (not free-form)", () => {
    const o = scaledObject();
    o.spec.triggers[0].metadata.listLength = 5;
    expect(problems(o)).toEqual([{ path: "spec.triggers[0].metadata.listLength", reason: "invalid" }]);
  });
  it("SealedSecret: an unknown field; encryptedData and the template's metadata preserve unknown fields", () => {
    const o = sealedSecret();
    o.spec.encryptedDta = {};
    o.spec.template.metadata.ownerReferences = [];
    expect(problems(o)).toEqual([{ path: "spec.encryptedDta", reason: "unknown-field" }]);
    delete o.spec.encryptedDta;
    delete o.spec.encryptedData;
    expect(problems(o)).toEqual([{ path: "spec.encryptedData", reason: "invalid" }]);
  });
  it("an apiVersion the CRD does not serve", () => {
    const o = sealedSecret();
    o.apiVersion = "bitnami.com/v1";
    const found = validateStrict(o as KubeObject, crds);
    expect(found).toEqual([{ path: "apiVersion", reason: "unknown-kind", message: "no schema for bitnami.com/v1 SealedSecret; the vendored CRD serves bitnami.com/v1alpha1" }]);
  });
});

describe("structural schema semantics", () => {
  it("prunes where nothing preserves, keeps maps, preserved and embedded fields", () => {
    const schema = toJsonSchema({
      type: "object",
      properties: {
        spec: {
          type: "object",
          properties: {
            map: { type: "object", additionalProperties: { type: "string" } },
            free: { type: "object", "x-kubernetes-preserve-unknown-fields": true, properties: { known: { type: "object" } } },
            embedded: { type: "object", "x-kubernetes-embedded-resource": true, "x-kubernetes-preserve-unknown-fields": true },
            port: { "x-kubernetes-int-or-string": true, anyOf: [{ type: "integer" }, { type: "string" }] },
            maybe: { type: "string", nullable: true, enum: ["a"] },
          },
        },
      },
    }) as Loose;
    expect(schema.additionalProperties).toBe(false);
    expect(schema.properties.spec.additionalProperties).toBe(false);
    expect(schema.properties.spec.properties.map.additionalProperties).toEqual({ type: "string" });
    expect(schema.properties.spec.properties.free.additionalProperties).toBeUndefined();
    // A field specified under a preserving node is still pruned in its own unknown fields.
    expect(schema.properties.spec.properties.free.properties.known.additionalProperties).toBe(false);
    expect(Object.keys(schema.properties.spec.properties.embedded.properties)).toEqual(["apiVersion", "kind", "metadata"]);
    expect(schema.properties.spec.properties.port.oneOf).toEqual([{ type: "integer" }, { type: "string" }]);
    expect(schema.properties.spec.properties.maybe).toEqual({ type: ["string", "null"], enum: ["a", null] });
  });
});
