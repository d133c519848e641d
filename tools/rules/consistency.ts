// Cross-environment consistency: the environments may differ only where the spec says so.
import { compareSemver, digestProblem, tagProblem } from "../edit/tag.ts";
import { allObjects, layerObjects, objectId, type Finding, type KustomizationFile, type RenderedEnvironment, type RenderedObject, type Rule, type RuleContext } from "./types.ts";
import { overlayDir, primaryLayer } from "../spec/model.ts";
import { HASHED } from "./argocd.ts";
import { parseImage, podTemplates } from "./workloads.ts";
// previousGroup's answer is rebuilt below from one stages() list (it walks every stage per call).
import { clustersOf, type Stage } from "../spec/stages.ts";
import { stageEnvironments } from "./stage-index.ts";

/** The rendered environments by name (the first of a name, as a find would), once per call. */
function renderedByName(ctx: RuleContext): Map<string, RenderedEnvironment> {
  const byName = new Map<string, RenderedEnvironment>();
  for (const e of ctx.environments) if (!byName.has(e.env)) byName.set(e.env, e);
  return byName;
}

function f(rule: string, file: string, path: string, message: string, env?: string, object?: string): Finding {
  return { rule: `consistency/${rule}`, file, path, message, env, object };
}

/** Generated ConfigMaps and Secrets carry a content hash; compare them by their generator name. */
function identity(ro: RenderedObject): string {
  const name = ro.object.metadata?.name ?? "";
  const stable = ro.object.kind === "ConfigMap" || ro.object.kind === "Secret" ? name.replace(HASHED, "") : name;
  return `${ro.object.kind}/${stable}`;
}

/**
 * The same resources in every environment; a layer is compared among environments that run its
 * data services in the same modes and add the same extras (what the spec declares may differ).
 */
export const sameResourcesRule: Rule = (ctx) => {
  const out: Finding[] = [];
  const environments = stageEnvironments(ctx.spec);
  const rendered = renderedByName(ctx);
  for (const { name: layer } of ctx.spec.layers) {
    const groups = new Map<string, string[]>();
    for (const env of ctx.environments) {
      const spec = environments.get(env.env)!;
      const modes = Object.entries(ctx.spec.data)
        .filter(([, d]) => d.layer === layer)
        .map(([name]) => `${name}=${spec.data[name]?.mode ?? "in-cluster"}`);
      const key = JSON.stringify([modes, spec.extras[layer] ?? null]);
      groups.set(key, [...(groups.get(key) ?? []), env.env]);
    }
    for (const envs of groups.values()) {
      const sets = envs.map((e) => new Set(layerObjects(rendered.get(e), layer).map(identity)));
      const union = new Set(sets.flatMap((s) => [...s]));
      envs.forEach((env, i) => {
        for (const id of union) {
          if (!sets[i]!.has(id)) {
            const others = envs.filter((_, j) => sets[j]!.has(id));
            const dir = overlayDir(ctx.spec, env, layer);
            out.push(f("resources", `${dir}/kustomization.yaml`, "", `${id} is rendered in ${others.join(", ")} but not in ${env}; environments may differ only where the spec declares it`, env, id));
          }
        }
      });
    }
  }
  return out;
};

/** Same image repositories everywhere; tags and digests well-formed; every spec image has an entry. */
export const imagesRule: Rule = (ctx) => {
  const out: Finding[] = [];
  const reposByEnv = new Map<string, Set<string>>();
  for (const env of ctx.environments) {
    const repos = new Set<string>();
    for (const t of podTemplates(layerObjects(env, primaryLayer(ctx.spec).name))) for (const c of [...(t.spec.containers ?? []), ...(t.spec.initContainers ?? [])]) if (c.image) repos.add(parseImage(c.image).repository);
    reposByEnv.set(env.env, repos);
  }
  const all = new Set([...reposByEnv.values()].flatMap((s) => [...s]));
  for (const [env, repos] of reposByEnv) {
    for (const repo of all) if (!repos.has(repo)) out.push(f("images", `overlays/${env}/kustomization.yaml`, "images", `image ${repo} runs in other environments but not in ${env}`, env));
  }
  for (const k of ctx.kustomizations.filter((k) => k.layer === primaryLayer(ctx.spec).name)) {
    const images = (Array.isArray(k.value.images) ? k.value.images : []) as Record<string, unknown>[];
    for (const image of ctx.spec.images) {
      const i = images.findIndex((e) => e?.name === image.name);
      if (i < 0) {
        out.push(f("images", k.file, "images", `no images: entry for ${image.name}; bump-image and promote move tags there`, k.env));
        continue;
      }
      const entry = images[i]!;
      if (entry.newTag !== undefined) {
        const problem = tagProblem(String(entry.newTag));
        if (problem) out.push(f("images", k.file, `images[${i}].newTag`, `${String(entry.newTag)}: ${problem}`, k.env));
      }
      if (entry.digest !== undefined) {
        const problem = digestProblem(String(entry.digest));
        if (problem) out.push(f("images", k.file, `images[${i}].digest`, problem, k.env));
      }
      if (entry.newTag === undefined && entry.digest === undefined) out.push(f("images", k.file, `images[${i}]`, `${image.name} has neither newTag nor digest`, k.env));
    }
  }
  return out;
};

/** Each Application deploys its environment's overlay into that environment's namespace. */
export const destinationsRule: Rule = (ctx) => {
  const out: Finding[] = [];
  const apps = ctx.argocd.filter((o) => o.object.kind === "Application");
  // The Applications of each source path, in order (once per call, not per stage and layer).
  const appsAt = new Map<string, RenderedObject[]>();
  for (const a of apps) {
    const at = ((a.object.spec as { source?: { path?: string } } | undefined)?.source?.path ?? "").replace(/\/$/, "");
    const same = appsAt.get(at);
    if (same) same.push(a);
    else appsAt.set(at, [a]);
  }
  const environments = stageEnvironments(ctx.spec);
  const renderedEnvs = renderedByName(ctx);
  // Per stage: an environment, or each cluster of one on several (tools/spec/stages.ts).
  for (const stage of environments.stages) {
    const envName = stage.id;
    const env = environments.get(envName)!;
    for (const { name: layer } of ctx.spec.layers) {
      const path = overlayDir(ctx.spec, envName, layer);
      const matching = appsAt.get(path) ?? [];
      if (matching.length === 0) out.push(f("destinations", "argocd/", "", `no Application deploys ${path}`, envName));
      for (const app of matching) {
        const spec = (app.object.spec ?? {}) as { destination?: { namespace?: string; server?: string; name?: string }; source?: { repoURL?: string } };
        if (spec.destination?.namespace !== env.namespace) {
          out.push(f("destinations", app.source, "spec.destination.namespace", `is ${spec.destination?.namespace ?? "unset"}, but overlay ${path} deploys into ${env.namespace}`, envName, objectId(app.object)));
        }
        if (spec.destination?.server && spec.destination.name) out.push(f("destinations", app.source, "spec.destination", "set server or name, not both", envName, objectId(app.object)));
        if (spec.source?.repoURL !== ctx.spec.repoURL) out.push(f("destinations", app.source, "spec.source.repoURL", `is ${spec.source?.repoURL}, not this repository (${ctx.spec.repoURL})`, envName, objectId(app.object)));
      }
    }
    const rendered = renderedEnvs.get(envName);
    for (const ro of rendered ? allObjects(rendered) : []) {
      const ns = ro.object.metadata?.namespace;
      if (ns !== undefined && ns !== env.namespace) out.push(f("destinations", ro.source, "metadata.namespace", `is ${ns}, but ${envName} deploys into ${env.namespace}`, envName, objectId(ro.object)));
    }
  }
  for (const app of apps) {
    const path = (app.object.spec as { source?: { path?: string } } | undefined)?.source?.path ?? "";
    // The root Application (argocd/root.yaml) deploys argocd/ itself.
    if (path.replace(/\/$/, "") === "argocd") continue;
    const env = /^overlays\/([^/]+)/.exec(path)?.[1];
    if (!env || !ctx.spec.environments[env]) out.push(f("destinations", app.source, "spec.source.path", `${path} is not an environment of the spec`, undefined, objectId(app.object)));
  }
  return out;
};

/** The primary layer's kustomization of each environment (the first listed), once per call. */
function primaryKustomizations(ctx: RuleContext): Map<string, KustomizationFile> {
  const primary = primaryLayer(ctx.spec).name;
  const byEnv = new Map<string, KustomizationFile>();
  for (const k of ctx.kustomizations) if (k.layer === primary && !byEnv.has(k.env)) byEnv.set(k.env, k);
  return byEnv;
}

function tagOf(kustomizations: Map<string, KustomizationFile>, env: string, image: string): string | undefined {
  const k = kustomizations.get(env);
  const entry = ((Array.isArray(k?.value.images) ? k!.value.images : []) as Record<string, unknown>[]).find((e) => e?.name === image);
  return typeof entry?.newTag === "string" ? entry.newTag : undefined;
}

/** Stages follow the promotion order: automation stops at the first manual stage, and no stage runs ahead of the one before it. */
export const promotionOrderRule: Rule = (ctx) => {
  const out: Finding[] = [];
  // Stages: an environment on several clusters is one per cluster, in waves; each is compared
  // with every stage of the group before it (the previous wave or environment).
  const environments = stageEnvironments(ctx.spec);
  const all = environments.stages;
  const kustomizations = primaryKustomizations(ctx);
  let manualSeen: string | undefined;
  for (const stage of all) {
    const env = environments.get(stage.id)!;
    const index = clustersOf(ctx.spec, stage.env).findIndex((c) => c.name === stage.cluster && c.sync !== undefined);
    const at = index >= 0 ? `environments.${stage.env}.clusters[${index}].sync` : `environments.${stage.env}.sync`;
    if (env.sync === "manual") manualSeen ??= stage.id;
    else if (manualSeen) out.push(f("promotion-order", ctx.specFile, at, `${stage.id} syncs automatically although an earlier stage, ${manualSeen}, syncs by hand`, stage.id));
  }
  // previousGroup(spec, id) for every stage, from one list of the stages.
  const firstById = new Map<string, Stage>();
  const byGroup = new Map<number, Stage[]>();
  for (const s of all) {
    if (!firstById.has(s.id)) firstById.set(s.id, s);
    const group = byGroup.get(s.group);
    if (group) group.push(s);
    else byGroup.set(s.group, [s]);
  }
  const previous = (id: string): Stage[] => {
    const at = firstById.get(id);
    return !at || at.group === 0 ? [] : (byGroup.get(at.group - 1) ?? []);
  };
  for (const image of ctx.spec.images) {
    for (const cur of all) {
      for (const prev of previous(cur.id)) {
        const a = tagOf(kustomizations, prev.id, image.name);
        const b = tagOf(kustomizations, cur.id, image.name);
        if (a && b && (compareSemver(b, a) ?? 0) > 0) {
          out.push(f("promotion-order", `overlays/${cur.id}/kustomization.yaml`, "images", `${cur.id} runs ${image.name}:${b}, ahead of the previous stage ${prev.id} (${a}): tags must be promoted in order`, cur.id));
        }
      }
    }
  }
  return out;
};

/**
 * An environment's config must not restate a setting of the stable ConfigMap: web, worker and beat
 * would take the config's value (their later envFrom wins) while the migration hook, which reads
 * only the stable ConfigMap, would migrate another database or run with other hosts.
 */
export const configOverrideRule: Rule = (ctx) => {
  const stable = ctx.spec.connection;
  if (!stable) return [];
  const environments = stageEnvironments(ctx.spec);
  return ctx.environments.flatMap((env) => {
    const connection = layerObjects(env, stable.layer).find((o) => o.object.kind === "ConfigMap" && o.object.metadata?.name === stable.configMap);
    const keys = new Set(Object.keys((connection?.object.data as Record<string, unknown> | undefined) ?? {}));
    return Object.keys(environments.get(env.env)?.config ?? {})
      .filter((k) => keys.has(k))
      .map((k) =>
        f("config-override", ctx.specFile, `environments.${env.env}.config.${k}`, `${k} is set in ${stable.configMap}, the stable ConfigMap the migration hook reads too; set it there (a data service's managed values or connection.hostSettings in the spec) so that the hook and the workloads agree`, env.env),
      );
  });
};

export const consistencyRules: Record<string, Rule> = {
  "config-override": configOverrideRule,
  resources: sameResourcesRule,
  images: imagesRule,
  destinations: destinationsRule,
  "promotion-order": promotionOrderRule,
};
