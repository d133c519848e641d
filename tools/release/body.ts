// The pull-request body of a tag move: what moves where, what merging does, and the rendered
// diff of the affected environment (the same diff code as `pnpm diff`).
import { formatDiffMarkdown, GITHUB_BODY_LIMIT } from "../diff/format.ts";
import type { ResourceChange } from "../diff/manifests.ts";
import type { Spec } from "../spec/schema.ts";
import { refText, type ReleasePlan } from "./plan.ts";

export function pullRequestBody(plan: ReleasePlan, spec: Spec, changes: ResourceChange[]): string {
  const env = spec.environments[plan.env]!;
  const rows = plan.moves.map((m) => `| \`${m.image}\` | \`${refText(m.before)}\` | \`${refText(m.after)}\` |`);
  const sync =
    env.sync === "auto"
      ? `Merging deploys: Argo CD syncs **${plan.env}** (namespace \`${env.namespace}\`) from the default branch automatically.`
      : `Merging records the change; **${plan.env}** syncs by hand: sync \`${spec.name}-${plan.env}\` in the Argo CD UI after the merge.`;
  const preface = [
    `## ${plan.kind === "promote" ? `Promote ${plan.from} → ${plan.env}` : `Deploy to ${plan.env}`}`,
    "",
    "| Image | From | To |",
    "| --- | --- | --- |",
    ...rows,
    "",
    sync,
    "",
    "Database migrations run first, as the PreSync hook `migrate`; if they fail, the sync stops and the running version keeps serving. " +
      "A rollback from the Argo CD UI does not run hooks, so these migrations must work with the previous release's code.",
    "",
    `<!-- ringlet:${plan.kind} env=${plan.env} -->`,
  ].join("\n");
  return formatDiffMarkdown(changes, [plan.env], { preface, limit: GITHUB_BODY_LIMIT });
}
