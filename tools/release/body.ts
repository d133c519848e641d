// The pull-request body of a tag move: what moves where, what merging does, and the rendered
// diff of the affected environment (the same diff code as `pnpm diff`).
import { formatDiffMarkdown, GITHUB_BODY_LIMIT } from "../diff/format.ts";
import type { RenderedResource, ResourceChange } from "../diff/manifests.ts";
import { parseYamlStream } from "../core/yaml.ts";
import type { Spec } from "../spec/schema.ts";
import { refText, type ReleasePlan } from "./plan.ts";
import { findStage, stageEnvironment } from "../spec/stages.ts";
import { applicationName, primaryLayer } from "../spec/model.ts";

const ARGO_HOOK = "argocd.argoproj.io/hook";
const HELM_HOOK = "helm.sh/hook";

/**
 * The PreSync hooks among an environment's rendered objects, as Kind/name: what runs before the
 * workloads on a sync. Argo CD's reading (gitops-engine pkg/sync/hook/hook.go `Types`): the
 * comma-separated `argocd.argoproj.io/hook`, and only without it Helm's `helm.sh/hook`, whose
 * pre-install and pre-upgrade are PreSync (pkg/sync/hook/helm/type.go).
 */
export function preSyncHooks(resources: RenderedResource[], label: string): string[] {
  const hooks: string[] = [];
  for (const resource of resources) {
    if (!resource.text.includes(ARGO_HOOK) && !resource.text.includes(HELM_HOOK)) continue;
    const [object] = parseYamlStream(resource.text, label) as { kind?: string; metadata?: { name?: string; annotations?: Record<string, unknown> } }[];
    const annotations = object?.metadata?.annotations ?? {};
    const csv = (key: string) => (typeof annotations[key] === "string" ? (annotations[key] as string).split(",").map((v) => v.trim()) : []);
    const argo = csv(ARGO_HOOK);
    const phases = argo.length ? argo : csv(HELM_HOOK).map((h) => (h === "pre-install" || h === "pre-upgrade" ? "PreSync" : h));
    if (phases.includes("PreSync")) hooks.push(`${object?.kind}/${object?.metadata?.name}`);
  }
  return [...new Set(hooks)].sort();
}

/**
 * `extra`: markdown placed before the rendered diff (the gates section). `hooks`: the PreSync
 * hooks the environment renders after the move (preSyncHooks), named in the body as they are.
 */
export function pullRequestBody(plan: ReleasePlan, spec: Spec, changes: ResourceChange[], extra?: string, hooks: string[] = []): string {
  // plan.env is a stage: an environment, or "<env>/<cluster>" with that cluster's settings.
  const env = stageEnvironment(spec, plan.env)!;
  const stage = findStage(spec, plan.env);
  const where = stage?.cluster ? ` on cluster ${stage.cluster} (wave ${stage.wave} of ${stage.env})` : "";
  const app = applicationName(spec, plan.env, primaryLayer(spec).name);
  const rows = plan.moves.map((m) => `| \`${m.image}\` | \`${refText(m.before)}\` | \`${refText(m.after)}\` |`);
  const sync =
    env.sync === "auto"
      ? `Merging deploys: Argo CD syncs **${plan.env}** (namespace \`${env.namespace}\`${where}) from the default branch automatically.`
      : `Merging records the change; **${plan.env}** syncs by hand: sync \`${app}\` in the Argo CD UI after the merge${where ? ` (it deploys${where})` : ""}.`;
  const heading = plan.kind === "promote" ? `Promote ${plan.from} → ${plan.env}` : plan.kind === "rollback" ? `Roll back ${plan.env}` : `Deploy to ${plan.env}`;
  const named = hooks.map((h) => `\`${h}\``).join(", ");
  const one = hooks.length === 1;
  const migrations = !hooks.length
    ? plan.kind === "rollback"
      ? "This rollback is a forward sync of the older release (a rollback from the Argo CD UI would be an apply without hooks: argo-cd #1927, #5365); no PreSync hook runs in this environment."
      : "No PreSync hook runs in this environment: the workloads roll out as soon as Argo CD syncs."
    : plan.kind === "rollback"
      ? `**This rollback is a forward sync**: Argo CD runs the PreSync hook${one ? "" : "s"} ${named} with the older release's code before the workloads go back (a rollback from the Argo CD UI runs no hooks: argo-cd #1927, #5365). ` +
        "What they did does not run backwards (a database migration, say): the older code meets the state the newer release left, so this is safe only if that release's changes were backward-compatible (expand/contract). " +
        `Make sure the older release's ${one ? "hook is a no-op" : "hooks are no-ops"} on that state.`
      : `The PreSync hook${one ? "" : "s"} ${named} run${one ? "s" : ""} first (Argo CD's PreSync phase); if ${one ? "it fails" : "one fails"}, the sync stops and the running version keeps serving. ` +
        `A rollback from the Argo CD UI does not run hooks, so what ${one ? "it changes" : "they change"} must work with the previous release's code.`;
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
    `<!-- gitops:${plan.kind} env=${plan.env} images=${plan.moves.map((m) => m.image).join(",")} -->`,
  ].join("\n");
  return formatDiffMarkdown(changes, [plan.env], { preface, limit: GITHUB_BODY_LIMIT });
}
