// Every rule family, in the order findings are reported.
import { appOfAppsRules } from "./app-of-apps.ts";
import { argocdRules } from "./argocd.ts";
import { crdListDefaultsRule } from "./crd-defaults.ts";
import { consistencyRules } from "./consistency.ts";
import { unmatchedPatchRule } from "./patches.ts";
import { policyRules } from "./policy.ts";
import { schemaRule } from "./schema.ts";
import type { Finding, Rule, RuleContext } from "./types.ts";

export const rules: Record<string, Rule> = {
  schema: schemaRule,
  "patches/unmatched-target": unmatchedPatchRule,
  ...Object.fromEntries(Object.entries(consistencyRules).map(([k, r]) => [`consistency/${k}`, r])),
  ...Object.fromEntries(Object.entries(policyRules).map(([k, r]) => [`policy/${k}`, r])),
  ...Object.fromEntries(Object.entries(argocdRules).map(([k, r]) => [`argocd/${k}`, r])),
  ...Object.fromEntries(Object.entries(appOfAppsRules).map(([k, r]) => [`argocd/${k}`, r])),
  "argocd/crd-list-defaults": crdListDefaultsRule,
};

export function runRules(ctx: RuleContext, selected: Record<string, Rule> = rules): Finding[] {
  return Object.values(selected).flatMap((rule) => rule(ctx));
}
