// The lookups rules build once per call (tools/rules/stage-index.ts, EnvObjects in
// tools/rules/workloads.ts) must answer exactly what the walks they replace answer: the spec's
// stageEnvironment, objectsAtDir, and a scan of the objects for the first match. Checked on the
// fixture repository with prod on two clusters (overrides included) and with duplicate names.
import { beforeAll, describe, expect, it } from "vitest";
import { gatherInputs } from "../tools/check/inputs.ts";
import { repoPaths } from "../tools/core/paths.ts";
import { overlayDir } from "../tools/spec/model.ts";
import { stageEnvironment, stages } from "../tools/spec/stages.ts";
import { objectsByDir, stageEnvironments, stageOfDir } from "../tools/rules/stage-index.ts";
import { objectsAtDir, allObjects, type RenderedObject, type RuleContext } from "../tools/rules/types.ts";
import { createdKeys, EnvObjects } from "../tools/rules/workloads.ts";
import { FIXTURE_ROOT } from "./support/repo.ts";

let clean: RuleContext;

beforeAll(async () => {
  const inputs = await gatherInputs(FIXTURE_ROOT, repoPaths(FIXTURE_ROOT).spec);
  clean = inputs.context!;
});

/** The fixture's spec with prod on two clusters, the canary overriding host, sync and a component. */
function clusterSpec(): RuleContext["spec"] {
  const spec = structuredClone(clean.spec);
  const prod = spec.environments.prod as unknown as Record<string, unknown>;
  prod.clusters = [
    { name: "prod-eu-canary", wave: 1, host: "canary.ringlet.example.com", sync: "auto", components: { web: { replicas: { min: 1, max: 2 } } } },
    { name: "prod-eu", server: "https://prod-eu.k8s.example.com", wave: 2 },
  ];
  return spec;
}

describe("stage lookups answer as the spec's own walks", () => {
  it("stageEnvironments: every stage (clusters and their overrides too), and an unknown one", () => {
    for (const spec of [clean.spec, clusterSpec()]) {
      const environments = stageEnvironments(spec);
      expect(environments.stages).toEqual(stages(spec));
      for (const { id } of stages(spec)) expect(environments.get(id)).toEqual(stageEnvironment(spec, id));
      expect(environments.get("nowhere")).toBeUndefined();
    }
    // The canary's overrides are really merged (the comparison above is not between two empties).
    expect(stageEnvironments(clusterSpec()).get("prod/prod-eu-canary")?.sync).toBe("auto");
  });

  it("stageOfDir: the first stage with a layer at a directory", () => {
    const spec = clusterSpec();
    const stageAt = stageOfDir(spec);
    for (const { id } of stages(spec)) for (const l of spec.layers) expect(stageAt(overlayDir(spec, id, l.name))).toBe(id);
    expect(stageAt("overlays/nowhere")).toBeUndefined();
  });

  it("objectsByDir: objectsAtDir for every overlay, spelled with ./ and trailing slashes, and for others", () => {
    const objectsAt = objectsByDir(clean.spec, clean.environments);
    const dirs = clean.environments.flatMap((e) => clean.spec.layers.map((l) => overlayDir(clean.spec, e.env, l.name)));
    for (const dir of [...dirs, ...dirs.map((d) => `./${d}/`), "././overlays/dev", "overlays/nowhere", "argocd", "", undefined]) {
      expect(objectsAt(dir)).toBe(objectsAtDir(clean.spec, clean.environments, dir));
    }
    expect(objectsAt("overlays/dev")?.length).toBeGreaterThan(0);
  });
});

describe("EnvObjects answers as a scan of the objects", () => {
  it("find and externalSecretWriting return the first match, with duplicate names", () => {
    const objects: RenderedObject[] = allObjects(structuredClone(clean.environments.find((e) => e.env === "dev")!));
    const configMap = objects.find((o) => o.object.kind === "ConfigMap")!;
    const external = objects.find((o) => o.object.kind === "ExternalSecret")!;
    // A second object of the same kind and name, and a second ExternalSecret writing the same Secret.
    objects.push({ ...configMap, object: { ...configMap.object, data: { other: "x" } } });
    objects.push({ ...external, object: { ...external.object, metadata: { name: "another" }, spec: { ...(external.object.spec as object), target: { name: createdKeys(external.object)[1]!.slice("Secret/".length) } } } });
    objects.push({ ...configMap, object: { apiVersion: "v1", kind: "ConfigMap", metadata: {} } });
    const index = new EnvObjects(objects);
    const keys = objects.map((o) => [o.object.kind, o.object.metadata?.name] as const);
    for (const [kind, name] of [...keys, ["ConfigMap", "nowhere"] as const, ["Nothing", undefined] as const]) {
      expect(index.find(kind, name)).toBe(objects.find((o) => o.object.kind === kind && o.object.metadata?.name === name));
    }
    const secrets = objects.flatMap((o) => createdKeys(o.object)).filter((k) => k.startsWith("Secret/")).map((k) => k.slice("Secret/".length));
    expect(secrets.length).toBeGreaterThan(1);
    for (const name of [...secrets, "nowhere"]) {
      expect(index.externalSecretWriting(name)).toBe(objects.find((o) => o.object.kind === "ExternalSecret" && createdKeys(o.object).includes(`Secret/${name}`)));
    }
    expect(index.externalSecretWriting(secrets[0]!)).toBe(external);
  });
});
