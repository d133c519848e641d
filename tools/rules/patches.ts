// kustomize silently skips a `patches` entry whose target matches nothing (kustomize #4379):
// an overlay then deploys the base unchanged and nobody notices.
import { layerObjects, type Finding, type Rule } from "./types.ts";

interface Target {
  group?: string;
  version?: string;
  kind?: string;
  name?: string;
  namespace?: string;
  labelSelector?: string;
  annotationSelector?: string;
}

function anchored(pattern: string): RegExp {
  try {
    return new RegExp(`^(?:${pattern})$`);
  } catch {
    return new RegExp(`^${pattern.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`);
  }
}

function selectorMatches(selector: string | undefined, values: Record<string, string> | undefined): boolean {
  if (!selector) return true;
  return selector.split(",").every((term) => {
    const t = term.trim();
    const neq = /^([^!=]+)!=(.*)$/.exec(t);
    if (neq) return (values ?? {})[neq[1]!.trim()] !== neq[2]!.trim();
    const eq = /^([^=]+)==?(.*)$/.exec(t);
    if (eq) return (values ?? {})[eq[1]!.trim()] === eq[2]!.trim();
    return t.startsWith("!") ? !(t.slice(1) in (values ?? {})) : t in (values ?? {});
  });
}

export const unmatchedPatchRule: Rule = (ctx) => {
  const out: Finding[] = [];
  for (const k of ctx.kustomizations) {
    const env = ctx.environments.find((e) => e.env === k.env);
    if (!env) continue;
    const objects = layerObjects(env, k.layer);
    const patches = Array.isArray(k.value.patches) ? (k.value.patches as { target?: Target; path?: string }[]) : [];
    patches.forEach((patch, i) => {
      const target = patch?.target;
      if (!target) return;
      const matched = objects.some(({ object }) => {
        const [group, version] = object.apiVersion?.includes("/") ? object.apiVersion.split("/") : ["", object.apiVersion];
        return (
          (target.group === undefined || target.group === group) &&
          (target.version === undefined || target.version === version) &&
          (target.kind === undefined || anchored(target.kind).test(object.kind ?? "")) &&
          (target.name === undefined || anchored(target.name).test(object.metadata?.name ?? "")) &&
          (target.namespace === undefined || anchored(target.namespace).test(object.metadata?.namespace ?? "")) &&
          selectorMatches(target.labelSelector, object.metadata?.labels) &&
          selectorMatches(target.annotationSelector, object.metadata?.annotations)
        );
      });
      if (!matched) {
        out.push({
          rule: "patches/unmatched-target",
          file: k.file,
          path: `patches[${i}].target`,
          env: k.env,
          message: `the patch ${patch.path ?? "(inline)"} targets ${JSON.stringify(target)}, which matches nothing: kustomize skips it without a word`,
        });
      }
    });
  }
  return out;
};
