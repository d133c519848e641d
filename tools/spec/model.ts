// Derived facts of a spec that several tools need (generate, check, diff, plan, release): the
// layers and where each environment's overlay of a layer lives, the Applications' names and waves.
// One place, so that nothing assumes a layer named "app" or "data".
import type { Environment, Layer, Spec } from "./schema.ts";
import { KNOWN_SCALER_API, KNOWN_WORKLOAD_API } from "./schema.ts";
import { stageIds } from "./stages.ts";

/** The layer with `images: true` (the spec's validation guarantees exactly one). */
export function primaryLayer(spec: Spec): Layer {
  return spec.layers.find((l) => l.images) ?? spec.layers[spec.layers.length - 1]!;
}

export function isPrimary(spec: Spec, layer: string): boolean {
  return primaryLayer(spec).name === layer;
}

export function layerNames(spec: Spec): string[] {
  return spec.layers.map((l) => l.name);
}

/** Repository-relative overlay directory of an environment's layer: the primary at overlays/<env>. */
export function overlayDir(spec: Spec, env: string, layer: string): string {
  return isPrimary(spec, layer) ? `overlays/${env}` : `overlays/${env}/${layer}`;
}

/**
 * Every (env, layer, dir) the spec generates, stages in promotion order, layers in sync order.
 * `env` is a stage: an environment, or "<env>/<cluster>" for each cluster of an environment on
 * several (tools/spec/stages.ts), whose overlays are overlays/<env>/<cluster>[/<layer>].
 */
export function overlayTargets(spec: Spec): { env: string; layer: string; dir: string }[] {
  return stageIds(spec).flatMap((env) => spec.layers.map((l) => ({ env, layer: l.name, dir: overlayDir(spec, env, l.name) })));
}

/** The layer an overlay directory belongs to, or undefined. */
export function layerOfDir(spec: Spec, env: string, dir: string): string | undefined {
  const clean = dir.replace(/^\.\//, "").replace(/\/+$/, "");
  return spec.layers.find((l) => overlayDir(spec, env, l.name) === clean)?.name;
}

/** `env` may be a cluster's stage "<env>/<cluster>": its Applications are <name>-<env>-<cluster>[-<layer>]. */
export function applicationName(spec: Spec, env: string, layer: string): string {
  const stage = env.replace("/", "-");
  return isPrimary(spec, layer) ? `${spec.name}-${stage}` : `${spec.name}-${stage}-${layer}`;
}

/**
 * Sync waves of what the root Application (root.yaml) syncs, in the order a first install needs:
 * - the project first (wave -n): an Application naming a project that does not exist yet is an
 *   InvalidSpecError (argocd/project-wave);
 * - then the automatically synced environments, layer by layer in the spec's order (wave
 *   index - (n-1), the last layer at 0): with Argo CD's Application health check a wave waits
 *   until its Applications are Healthy (gitops-engine pkg/sync/sync_context.go: only Healthy or
 *   Degraded ends a running task);
 * - the manually synced environments last (wave 1): such an Application stays Missing until
 *   someone syncs it, so under that health check nothing after its wave would ever be created
 *   (argocd/manual-blocks-root). All its layers share the wave, so all exist at once.
 */
export function projectWave(spec: Spec): number {
  return -spec.layers.length;
}
export const MANUAL_WAVE = 1;

export function applicationWave(spec: Spec, env: Environment, layer: string): number {
  if (env.sync === "manual") return MANUAL_WAVE;
  const index = spec.layers.findIndex((l) => l.name === layer);
  return index - (spec.layers.length - 1);
}

/** The layer whose base holds a repository-relative file (the longest base that contains it). */
export function layerOfFile(spec: Spec, file: string): Layer | undefined {
  return [...spec.layers].sort((a, b) => b.base.length - a.base.length).find((l) => file === l.base || file.startsWith(`${l.base}/`));
}

export function workloadApiVersion(ref: { apiVersion?: string; kind: string }): string {
  return ref.apiVersion ?? KNOWN_WORKLOAD_API[ref.kind] ?? "";
}

export function scalerApiVersion(ref: { apiVersion?: string; kind: string }): string {
  return ref.apiVersion ?? KNOWN_SCALER_API[ref.kind] ?? "";
}

/** The host that stands for "{host}" in hostSettings: `host`, or the first value of `hosts`. */
export function primaryHost(env: Environment): string | undefined {
  return env.host ?? Object.values(env.hosts ?? {})[0];
}

/** Every host the environment declares (for uniqueness across environments and the host rule). */
export function declaredHosts(env: Environment): string[] {
  return [...new Set([...(env.host ? [env.host] : []), ...Object.values(env.hosts ?? {})])];
}

/** Fills a "{name}" template from settings; the names it cannot fill are returned. */
export function fillTemplate(template: string, settings: Record<string, string>): { value: string; missing: string[] } {
  const missing: string[] = [];
  const value = template.replace(/\{([A-Za-z0-9_-]+)\}/g, (whole, name: string) => {
    if (Object.hasOwn(settings, name)) return settings[name]!;
    missing.push(name);
    return whole;
  });
  return { value, missing };
}

/** The settings of an environment's managed data service: the service's defaults, then the environment's values. */
export function managedSettings(spec: Spec, service: string, env: Environment): Record<string, string> | undefined {
  const mode = env.data[service];
  if (!mode || mode.mode !== "managed") return undefined;
  const out: Record<string, string> = { ...(spec.data[service]?.managed?.defaults ?? {}) };
  for (const [k, v] of Object.entries(mode)) if (k !== "mode" && v !== undefined) out[k] = String(v);
  return out;
}

/** The data services an environment runs managed, in the spec's order. */
export function managedServices(spec: Spec, env: Environment): string[] {
  return Object.keys(spec.data).filter((name) => env.data[name]?.mode === "managed");
}

/**
 * Pairs of connection keys a data service writes as a bare host and its port (values "{host}" and
 * "{port}"), e.g. DATABASE_HOST -> DATABASE_PORT: a container reads the two together.
 */
export function hostPortKeys(spec: Spec): Map<string, string> {
  const out = new Map<string, string>();
  for (const service of Object.values(spec.data)) {
    const values = Object.entries(service.managed?.values ?? {});
    const host = values.find(([, t]) => t === "{host}")?.[0];
    const port = values.find(([, t]) => t === "{port}")?.[0];
    if (host && port) out.set(host, port);
  }
  return out;
}
