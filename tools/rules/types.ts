// What every rule sees and what it returns. Rules are small pure functions over rendered objects:
// no I/O, no kustomize, no YAML parsing (that happened once, before the rules ran).
import type { KubeObject } from "../core/yaml.ts";
import type { Spec } from "../spec/schema.ts";
import { layerOfDir } from "../spec/model.ts";
import type { CrdDefaults } from "./crd-defaults.ts";

/** Which Argo CD Application an object belongs to: a layer of the spec (by name), or argocd/. */
export type Layer = string;

export interface RenderedObject {
  env: string | undefined;
  layer: Layer;
  object: KubeObject;
  /** Repository-relative file the object came from (kustomize origin annotation or argocd/ file). */
  source: string;
}

export interface Finding {
  /** Rule family and name, e.g. "policy/resources". */
  rule: string;
  /** Repository-relative file to fix. */
  file: string;
  /** Field path inside that object, dotted with [index] for lists, e.g. spec.template.spec.containers[0].resources. */
  path: string;
  message: string;
  env?: string;
  /** Kind/name of the rendered object, when the finding is about one. */
  object?: string;
  line?: number;
}

export interface RenderedEnvironment {
  env: string;
  /** The rendered objects of each layer of the spec (by layer name), in its (sync) order. */
  layers: Record<string, RenderedObject[]>;
}

export interface RuleContext {
  spec: Spec;
  specFile: string;
  environments: RenderedEnvironment[];
  /** Objects of argocd/ (AppProject, Applications), parsed from their files. */
  argocd: RenderedObject[];
  /**
   * The files argocd/kustomization.yaml lists (repository-relative): what an Application whose
   * source path is argocd/ (the root of the app of apps) syncs. Undefined without that file.
   */
  argocdResources?: string[];
  /** Defaults declared by the CRDs vendored in crds/ ("group/version/Kind" -> schema defaults). */
  crdDefaults?: CrdDefaults;
  /** The overlays' own kustomization files, parsed (for rules about patches and images). */
  kustomizations: KustomizationFile[];
  /**
   * CustomResourceDefinitions the repository vendors (crds/ at its root), parsed: only the files
   * that define a kind the overlays render (see tools/check/crds.ts).
   */
  crds?: VendoredCrd[];
}

export interface VendoredCrd {
  /** Repository-relative file, e.g. crds/keda.sh_scaledobjects.yaml. */
  source: string;
  object: KubeObject;
}

export interface KustomizationFile {
  env: string;
  layer: Layer;
  /** Repository-relative path of the kustomization.yaml. */
  file: string;
  value: Record<string, unknown>;
}

export type Rule = (ctx: RuleContext) => Finding[];

export function objectId(o: KubeObject): string {
  return `${o.kind ?? "?"}/${o.metadata?.name ?? "?"}`;
}

/** Every rendered object of one environment (all its Applications). */
export function allObjects(env: RenderedEnvironment): RenderedObject[] {
  // Object.values(env.layers).flat(), without flat()'s generic (and, per call, slow) path.
  const out: RenderedObject[] = [];
  for (const layer of Object.values(env.layers)) for (const o of layer) out.push(o);
  return out;
}

/** The rendered objects of one layer of an environment (empty when it did not render). */
export function layerObjects(env: RenderedEnvironment | undefined, layer: string): RenderedObject[] {
  return (env && Object.hasOwn(env.layers, layer) ? env.layers[layer] : undefined) ?? [];
}

/** The rendered objects of the overlay at `dir` (an Application's source path), if it is an environment's. */
export function objectsAtDir(spec: Spec, environments: RenderedEnvironment[], dir: string | undefined): RenderedObject[] | undefined {
  const clean = (dir ?? "").replace(/^\.\//, "").replace(/\/+$/, "");
  for (const env of environments) {
    const layer = layerOfDir(spec, env.env, clean);
    if (layer) return layerObjects(env, layer);
  }
  return undefined;
}
