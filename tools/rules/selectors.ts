// Label selectors that must select something, and pods that must not be claimed twice.
// (Service and PodDisruptionBudget selectors that select no pod: policy/service and
// policy/disruption-budget.)
import { allObjects, objectId, type Finding, type RenderedObject, type Rule } from "./types.ts";
import { labelSelectorMatches, podTemplate, podTemplates, POD_CONTROLLERS, type PodTemplate } from "./workloads.ts";

function finding(rule: string, ro: RenderedObject, path: string, message: string): Finding {
  return { rule: `selectors/${rule}`, file: ro.source, path, message, env: ro.env, object: objectId(ro.object) };
}

/**
 * Two controllers whose selectors match the same pods fight over them: each counts the other's
 * pods as its own and scales or deletes them (Kubernetes docs, Deployment "Label selector
 * updates": overlapping selectors are not prevented, and the controllers will conflict).
 * A Rollout's workloadRef Deployment is the one exception: the Rollout takes its pods on purpose.
 */
export const sharedPodsRule: Rule = (ctx) =>
  ctx.environments.flatMap((env) => {
    const objects = allObjects(env);
    const controllers = objects.filter((o) => POD_CONTROLLERS.has(o.object.kind ?? ""));
    const out: Finding[] = [];
    for (const a of controllers) {
      const selector = (a.object.spec as { selector?: unknown } | undefined)?.selector;
      if (!selector) continue;
      const ref = (a.object.spec as { workloadRef?: { kind?: string; name?: string } } | undefined)?.workloadRef;
      for (const b of controllers) {
        if (a === b) continue;
        if (a.object.kind === "Rollout" && ref?.kind === b.object.kind && ref?.name === b.object.metadata?.name) continue;
        const t = podTemplate(b);
        if (t && Object.keys(t.labels).length && labelSelectorMatches(selector, t.labels)) {
          out.push(finding("shared-pods", a, "spec.selector", `selects the pods of ${objectId(b.object)} too: two controllers would fight over them`));
        }
      }
    }
    return out;
  });

/**
 * The eviction API refuses to evict a pod that more than one PodDisruptionBudget selects
 * ("This pod has more than one PodDisruptionBudget, which the eviction subresource does not
 * support"): every node drain would stall on those pods.
 */
export const overlappingBudgetsRule: Rule = (ctx) =>
  ctx.environments.flatMap((env) => {
    const objects = allObjects(env);
    const pdbs = objects.filter((o) => o.object.kind === "PodDisruptionBudget");
    const out: Finding[] = [];
    for (const t of podTemplates(objects)) {
      const selecting = pdbs.filter((p) => labelSelectorMatches((p.object.spec as { selector?: unknown } | undefined)?.selector, t.labels));
      for (const pdb of selecting.slice(1)) {
        out.push(finding("overlapping-budgets", pdb, "spec.selector", `${objectId(t.ro.object)}'s pods are also selected by ${objectId(selecting[0]!.object)}: the eviction API refuses pods with more than one budget, so drains would stall`));
      }
    }
    return out;
  });

interface AffinityTerm {
  labelSelector?: unknown;
  namespaces?: string[];
  namespaceSelector?: unknown;
}

/** Pod (anti-)affinity terms and topology spread constraints, with their field paths. */
function selectorTerms(t: PodTemplate): { path: string; term: AffinityTerm; what: string }[] {
  const spec = t.spec as { affinity?: Record<string, Record<string, unknown> | undefined>; topologySpreadConstraints?: AffinityTerm[] };
  const out: { path: string; term: AffinityTerm; what: string }[] = [];
  for (const kind of ["podAntiAffinity", "podAffinity"] as const) {
    const a = spec.affinity?.[kind];
    if (!a) continue;
    const base = `${t.path}.affinity.${kind}`;
    ((a.requiredDuringSchedulingIgnoredDuringExecution ?? []) as AffinityTerm[]).forEach((term, i) =>
      out.push({ path: `${base}.requiredDuringSchedulingIgnoredDuringExecution[${i}].labelSelector`, term, what: kind }),
    );
    ((a.preferredDuringSchedulingIgnoredDuringExecution ?? []) as { podAffinityTerm?: AffinityTerm }[]).forEach((p, i) =>
      out.push({ path: `${base}.preferredDuringSchedulingIgnoredDuringExecution[${i}].podAffinityTerm.labelSelector`, term: p?.podAffinityTerm ?? {}, what: kind }),
    );
  }
  (spec.topologySpreadConstraints ?? []).forEach((term, i) => out.push({ path: `${t.path}.topologySpreadConstraints[${i}].labelSelector`, term, what: "topology spread" }));
  return out;
}

/**
 * An anti-affinity (or affinity, or spread) term whose selector matches no pod of the
 * environment spreads nothing: a typo in a label leaves all replicas free to land on one node.
 * Terms that look into other namespaces are not judged.
 */
export const affinityRule: Rule = (ctx) =>
  ctx.environments.flatMap((env) => {
    const templates = podTemplates(allObjects(env));
    return templates.flatMap((t) =>
      selectorTerms(t)
        .filter(({ term }) => term.labelSelector !== undefined && !term.namespaces?.length && term.namespaceSelector === undefined)
        .filter(({ term }) => !templates.some((other) => labelSelectorMatches(term.labelSelector, other.labels)))
        .map(({ path, term, what }) => finding("affinity", t.ro, path, `this ${what} selector matches no pod rendered in this environment (${JSON.stringify(term.labelSelector)})`)),
    );
  });

export const selectorRules: Record<string, Rule> = {
  "shared-pods": sharedPodsRule,
  "overlapping-budgets": overlappingBudgetsRule,
  affinity: affinityRule,
};
