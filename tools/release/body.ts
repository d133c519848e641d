// The pull-request body of a tag move: what moves where, what merging does, and the rendered
// diff of the affected environment (the same diff code as `pnpm diff`).
import { formatDiffMarkdown, GITHUB_BODY_LIMIT } from "../diff/format.ts";
import type { ResourceChange } from "../diff/manifests.ts";
import type { Spec } from "../spec/schema.ts";
import { refText, type ReleasePlan } from "./plan.ts";

/** `extra`: markdown placed before the rendered diff (the gates section). */
export function pullRequestBody(plan: ReleasePlan, spec: Spec, changes: ResourceChange[], extra?: string): string {
  const env = spec.environments[plan.env]!;
  const rows = plan.moves.map((m) => `| \`${m.image}\` | \`${refText(m.before)}\` | \`${refText(m.after)}\` |`);
  const sync =
    env.sync === "auto"
      ? `Merging deploys: Argo CD syncs **${plan.env}** (namespace \`${env.namespace}\`) from the default branch automatically.`
      : `Merging records the change; **${plan.env}** syncs by hand: sync \`${spec.name}-${plan.env}\` in the Argo CD UI after the merge.`;
  const heading = plan.kind === "promote" ? `Promote ${plan.from} → ${plan.env}` : plan.kind === "rollback" ? `Roll back ${plan.env}` : `Deploy to ${plan.env}`;
  const hook = spec.components ? Object.values(spec.components).find((c) => c.workload.kind === "Job")?.workload.name : undefined;
  const hookName = hook ? `\`${hook}\`` : "of the application";
  const migrations =
    plan.kind === "rollback"
      ? `**This rollback is a forward sync**: Argo CD runs the PreSync hook ${hookName} with the older release's code before the workloads go back (a rollback from the Argo CD UI runs no hooks: argo-cd #1927, #5365). ` +
        "Migrations do not run backwards: the older code runs against the schema the newer release left, so this is safe only if that release's migrations were backward-compatible (expand/contract). " +
        "Make sure the older release's migration step is a no-op on the newer schema."
      : `Database migrations run first, as the PreSync hook ${hookName}; if they fail, the sync stops and the running version keeps serving. ` +
        "A rollback from the Argo CD UI does not run hooks, so these migrations must work with the previous release's code.";
  const goesBack =
    plan.kind === "rollback"
      ? ["", `What goes back: ${plan.moves.map((m) => `\`${m.image}\` from \`${refText(m.before)}\` to \`${refText(m.after)}\``).join(", ")}, a version ${plan.env} ran before (\`pnpm history ${plan.env}\`). No gate applies to a rollback.`]
      : [];
  const preface = [
    `## ${heading}`,
    "",
    "| Image | From | To |",
    "| --- | --- | --- |",
    ...rows,
    ...goesBack,
    "",
    sync,
    "",
    migrations,
    "",
    ...(extra ? [extra, ""] : []),
    `<!-- gitops:${plan.kind} env=${plan.env} -->`,
  ].join("\n");
  return formatDiffMarkdown(changes, [plan.env], { preface, limit: GITHUB_BODY_LIMIT });
}
