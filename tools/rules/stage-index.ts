// Lookups by stage and by overlay directory that rules need once per environment or Application.
// The spec's own helpers answer one question by walking every stage (stageEnvironment finds its
// stage among stages(spec); an Application's overlay is found by trying every stage and layer), so
// asking them per environment made those rules environments x environments. These build each
// answer once per rule call, with the spec's helpers, and answer exactly as those walks do.
// Nothing outlives the call: rules stay pure functions of their context.
import { layerOfDir, overlayDir } from "../spec/model.ts";
import type { Environment, Spec } from "../spec/schema.ts";
import { stageEnvironment, stages, type Stage } from "../spec/stages.ts";
import { layerObjects, type RenderedEnvironment, type RenderedObject } from "./types.ts";

export interface StageEnvironments {
  /** stageEnvironment(spec, id), computed on first use. */
  get(id: string): Environment | undefined;
  /** stages(spec), in promotion order. */
  readonly stages: Stage[];
}

export function stageEnvironments(spec: Spec): StageEnvironments {
  const all = stages(spec);
  const byId = new Map<string, Stage>();
  for (const s of all) if (!byId.has(s.id)) byId.set(s.id, s);
  const merged = new Map<string, Environment | undefined>();
  return {
    stages: all,
    get(id) {
      if (merged.has(id)) return merged.get(id);
      const stage = byId.get(id);
      // A stage's settings depend only on its own environment (and cluster): asking a spec that
      // holds just that environment gives stageEnvironment's answer without its walk of every stage.
      const value = stage ? stageEnvironment({ ...spec, environments: { [stage.env]: spec.environments[stage.env]! } }, id) : undefined;
      merged.set(id, value);
      return value;
    },
  };
}

/** The overlay directories of the spec: `path` -> the first stage (in promotion order) with a layer there. */
export function stageOfDir(spec: Spec): (path: string) => string | undefined {
  const byDir = new Map<string, string>();
  for (const { id } of stages(spec)) {
    for (const l of spec.layers) {
      const dir = overlayDir(spec, id, l.name);
      if (!byDir.has(dir)) byDir.set(dir, id);
    }
  }
  return (path) => byDir.get(path);
}

const clean = (dir: string) => dir.replace(/^\.\//, "").replace(/\/+$/, "");

/**
 * objectsAtDir(spec, environments, dir) for many directories: the rendered objects of the overlay
 * at an Application's source path, if it is one of these environments' (the first in order).
 */
export function objectsByDir(spec: Spec, environments: RenderedEnvironment[]): (dir: string | undefined) => RenderedObject[] | undefined {
  const byDir = new Map<string, { env: RenderedEnvironment; layer: string }>();
  for (const env of environments) {
    for (const l of spec.layers) {
      const dir = overlayDir(spec, env.env, l.name);
      // layerOfDir answers the first layer whose directory this is.
      if (!byDir.has(dir) && layerOfDir(spec, env.env, dir) === l.name) byDir.set(dir, { env, layer: l.name });
    }
  }
  return (dir) => {
    // objectsAtDir cleans the path, and layerOfDir cleans it again.
    const found = byDir.get(clean(clean(dir ?? "")));
    return found ? layerObjects(found.env, found.layer) : undefined;
  };
}
