import type { Command } from "../cli.ts";
import { UsageError } from "../core/errors.ts";
import { repoPaths } from "../core/paths.ts";
import { planFirstInstall, planSync, rootPlanJson, rootPlanText, syncPlanJson, syncPlanText } from "../ops/sync-plan.ts";
import { environmentArgument, loadSpec } from "../spec/load.ts";
import { findStage, stagesOf } from "../spec/stages.ts";

export const planCommand: Command = {
  name: "plan",
  summary:
    "What a full Argo CD sync of an environment does, in Argo CD's order (phase, wave, kind, name), for its data and app Applications; flags anything that would run before what it reads exists. With --first-install: the order across the root Application on an empty cluster, and where a manual Application holds it up.",
  usage: "pnpm plan <env> [--json] | pnpm plan --first-install [--json]",
  help:
    "      --first-install  the first install across the root Application (argocd/root.yaml): its waves, each\n" +
    "                       child Application's PreSync/Sync/PostSync, and where a manual Application blocks it\n" +
    "      --json           print the plan as JSON\n",
  options: { json: { type: "boolean" }, "first-install": { type: "boolean" } },
  maxPositionals: 1,
  async run(ctx) {
    const spec = await loadSpec(repoPaths(ctx.root).spec, ctx.root);
    if (ctx.values["first-install"]) {
      if (ctx.positionals.length) throw new UsageError("--first-install plans every environment at once: give no environment");
      const plan = await planFirstInstall(ctx.root, spec);
      ctx.stdout(ctx.values.json ? rootPlanJson(plan) : rootPlanText(plan, ctx.colour));
      return plan.findings.length ? 1 : 0;
    }
    const env = environmentArgument(spec, ctx.positionals, true);
    // An environment on several clusters: what Argo CD does on each, in promotion (wave) order.
    const ids = findStage(spec, env) ? [env] : stagesOf(spec, env).map((s) => s.id);
    const plans = [];
    for (const id of ids) plans.push(await planSync(ctx.root, spec, id));
    if (ctx.values.json) ctx.stdout(plans.length === 1 ? syncPlanJson(plans[0]!) : `[\n${plans.map((p) => syncPlanJson(p).trimEnd()).join(",\n")}\n]\n`);
    else ctx.stdout(plans.map((p) => (plans.length > 1 ? `== ${p.environment} (cluster ${findStage(spec, p.environment)?.cluster}) ==\n` : "") + syncPlanText(p, ctx.colour)).join("\n"));
    return plans.some((p) => p.findings.length) ? 1 : 0;
  },
};
