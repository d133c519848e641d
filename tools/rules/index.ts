// Every rule family, in the order findings are reported.
import { appOfAppsRules } from "./app-of-apps.ts";
import { argocdRules } from "./argocd.ts";
import { crdListDefaultsRule } from "./crd-defaults.ts";
import { clusterRules } from "./clusters.ts";
import { consistencyRules } from "./consistency.ts";
import { customResourceRules } from "./custom-resources.ts";
import { hostRules } from "./hosts.ts";
import { imageRules } from "./images.ts";
import { referenceRules } from "./references.ts";
import { selectorRules } from "./selectors.ts";
import { unmatchedPatchRule } from "./patches.ts";
import { networkRules } from "./network.ts";
import { policyRules } from "./policy.ts";
import { runtimeRules } from "./runtime.ts";
import { schemaRule } from "./schema.ts";
import type { Finding, Rule, RuleContext } from "./types.ts";

export const rules: Record<string, Rule> = {
  schema: schemaRule,
  "patches/unmatched-target": unmatchedPatchRule,
  ...Object.fromEntries(Object.entries(consistencyRules).map(([k, r]) => [`consistency/${k}`, r])),
  ...Object.fromEntries(Object.entries(policyRules).map(([k, r]) => [`policy/${k}`, r])),
  ...Object.fromEntries(Object.entries(runtimeRules).map(([k, r]) => [`runtime/${k}`, r])),
  ...Object.fromEntries(Object.entries(networkRules).map(([k, r]) => [`network/${k}`, r])),
  ...Object.fromEntries(Object.entries(argocdRules).map(([k, r]) => [`argocd/${k}`, r])),
  ...Object.fromEntries(Object.entries(appOfAppsRules).map(([k, r]) => [`argocd/${k}`, r])),
  ...Object.fromEntries(Object.entries(clusterRules).map(([k, r]) => [`clusters/${k}`, r])),
  "argocd/crd-list-defaults": crdListDefaultsRule,
  ...Object.fromEntries(Object.entries(customResourceRules).map(([k, r]) => [`custom-resources/${k}`, r])),
  ...Object.fromEntries(Object.entries(hostRules).map(([k, r]) => [`hosts/${k}`, r])),
  ...Object.fromEntries(Object.entries(imageRules).map(([k, r]) => [`images/${k}`, r])),
  ...Object.fromEntries(Object.entries(selectorRules).map(([k, r]) => [`selectors/${k}`, r])),
  ...Object.fromEntries(Object.entries(referenceRules).map(([k, r]) => [`references/${k}`, r])),
};

export function runRules(ctx: RuleContext, selected: Record<string, Rule> = rules): Finding[] {
  return Object.values(selected).flatMap((rule) => rule(ctx));
}
