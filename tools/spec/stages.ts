// Promotion stages. An environment without `clusters` is one stage, named after it. An environment
// on several clusters is one stage per cluster, named "<env>/<cluster>" (its overlay is
// overlays/<env>/<cluster>/, its deploy branches deploy/<env>/<cluster>/…), in wave order: the
// clusters of the lowest wave (the canary) first. Stages of one wave form a group; a tag moves from
// one group to the next (the stage-order and skip rules of bump-image and promote, the
// promotion-order rule of check, soak and checks gates all look at the previous group).
import type { Environment, Spec } from "./schema.ts";

export interface Stage {
  /** "dev", or "prod/prod-eu-canary": also the overlay directory under overlays/. */
  id: string;
  env: string;
  cluster?: string;
  /** The promotion wave inside the environment (0 for an environment without clusters). */
  wave: number;
  /** Index of the stage's group (an environment, or one wave of it) in promotion order. */
  group: number;
}

/** A cluster entry: its identity and wave, and the environment fields it overrides (tools/spec/clusters.ts). */
export type Cluster = NonNullable<Environment["clusters"]>[number] & Partial<Omit<Environment, "clusters">>;

/** The clusters of an environment, typed with their overrides. */
export function clustersOf(spec: Spec, env: string): Cluster[] {
  return (spec.environments[env]?.clusters ?? []) as Cluster[];
}

/**
 * Every stage in promotion order. Remembered per spec object (a spec is read once and asked for
 * its stages by every stage of every rule and generated file: recomputing them made those loops
 * quadratic in the number of environments), and recomputed whenever what they are made of (the
 * environments' names and order, their cluster lists, each cluster's name and wave) is not the
 * very same as when they were remembered, so a spec edited in place is never answered from memory.
 */
export function stages(spec: Spec): Stage[] {
  const shape = stageShape(spec);
  const known = remembered.get(spec);
  if (known && known.shape.length === shape.length && known.shape.every((v, i) => v === shape[i])) return known.stages.slice();
  const out = computeStages(spec);
  remembered.set(spec, { shape, stages: out, byId: new Map(out.map((s) => [s.id, s])) });
  return out.slice();
}

interface Remembered {
  shape: unknown[];
  /** Frozen: handed out (in copies of the list) to every caller. */
  stages: readonly Stage[];
  byId: Map<string, Stage>;
}

const remembered = new WeakMap<Spec, Remembered>();

/** What the stages depend on, flat, compared by identity and value. */
function stageShape(spec: Spec): unknown[] {
  const shape: unknown[] = [spec.environments];
  for (const name of Object.keys(spec.environments)) {
    const clusters = spec.environments[name]?.clusters;
    shape.push(name, clusters);
    if (clusters) for (const c of clusters) shape.push(c, c.name, c.wave);
  }
  return shape;
}

function computeStages(spec: Spec): Stage[] {
  const out: Stage[] = [];
  let group = 0;
  for (const [env, environment] of Object.entries(spec.environments)) {
    const clusters = environment.clusters;
    if (!clusters?.length) {
      out.push(Object.freeze({ id: env, env, wave: 0, group: group++ }));
      continue;
    }
    const waves = [...new Set(clusters.map((c) => c.wave))].sort((a, b) => a - b);
    for (const wave of waves) {
      for (const c of clusters.filter((c) => c.wave === wave)) out.push(Object.freeze({ id: `${env}/${c.name}`, env, cluster: c.name, wave, group }));
      group++;
    }
  }
  return out;
}

export function stageIds(spec: Spec): string[] {
  return stages(spec).map((s) => s.id);
}

export function findStage(spec: Spec, id: string): Stage | undefined {
  stages(spec);
  return remembered.get(spec)!.byId.get(id);
}

/** The stages of the group before this stage's (where its tag comes from); none for the first. */
export function previousGroup(spec: Spec, id: string): Stage[] {
  const all = stages(spec);
  const at = all.find((s) => s.id === id);
  if (!at || at.group === 0) return [];
  return all.filter((s) => s.group === at.group - 1);
}

/** The stages of the group after this one. */
export function nextGroup(spec: Spec, id: string): Stage[] {
  const all = stages(spec);
  const at = all.find((s) => s.id === id);
  if (!at) return [];
  return all.filter((s) => s.group === at.group + 1);
}

export function clusterOf(spec: Spec, stage: Stage): Cluster | undefined {
  return stage.cluster === undefined ? undefined : clustersOf(spec, stage.env).find((c) => c.name === stage.cluster);
}

const CLUSTER_ONLY = new Set(["name", "server", "wave"]);

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/**
 * The settings a stage deploys with: its environment's, with its cluster's overrides on top. A
 * record of records (components) merges per entry, a record of values (config) per key; anything
 * else (host, hosts, sync) replaces. A `host` override replaces `hosts` and the other way round.
 */
export function stageEnvironment(spec: Spec, id: string): Environment | undefined {
  const stage = findStage(spec, id);
  return stage && environmentOf(spec, stage);
}

/** stageEnvironment of a stage already at hand. */
export function environmentOf(spec: Spec, stage: Stage): Environment {
  const env = spec.environments[stage.env]!;
  const cluster = clusterOf(spec, stage);
  const merged: Record<string, unknown> = { ...env };
  delete merged.clusters;
  if (!cluster) return merged as Environment;
  for (const [key, value] of Object.entries(cluster)) {
    if (CLUSTER_ONLY.has(key) || value === undefined) continue;
    const mine = merged[key];
    if (isRecord(value) && isRecord(mine)) {
      const out: Record<string, unknown> = { ...mine };
      for (const [k, v] of Object.entries(value)) out[k] = isRecord(v) && isRecord(out[k]) ? { ...(out[k] as Record<string, unknown>), ...v } : v;
      merged[key] = out;
    } else merged[key] = value;
    if (key === "host") delete merged.hosts;
    if (key === "hosts") delete merged.host;
  }
  return merged as Environment;
}

/** An environment's own stages (one, or one per cluster). */
export function stagesOf(spec: Spec, env: string): Stage[] {
  return stages(spec).filter((s) => s.env === env);
}

/** Where a stage's Applications deploy: its cluster (by Argo CD cluster name or server), else destinationServer. */
export function stageDestination(spec: Spec, stage: Stage): { server: string } | { name: string } {
  const cluster = clusterOf(spec, stage);
  if (!cluster) return { server: spec.destinationServer };
  // Argo CD refuses a destination with both (util/argo/argo.go GetDestinationServer).
  return cluster.server ? { server: cluster.server } : { name: cluster.name };
}
