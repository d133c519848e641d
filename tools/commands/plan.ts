import type { Command } from "../cli.ts";
import { repoPaths } from "../core/paths.ts";
import { planSync, syncPlanJson, syncPlanText } from "../ops/sync-plan.ts";
import { environmentArgument, loadSpec } from "../spec/load.ts";

export const planCommand: Command = {
  name: "plan",
  summary: "What a full Argo CD sync of an environment does, in Argo CD's order (phase, wave, kind, name), for its data and app Applications; flags anything that would run before what it reads exists.",
  usage: "pnpm plan <env> [--json]",
  help: "      --json        print the plan as JSON (applications in sync order, their steps, findings)\n",
  options: { json: { type: "boolean" } },
  maxPositionals: 1,
  async run(ctx) {
    const spec = await loadSpec(repoPaths(ctx.root).spec, ctx.root);
    const env = environmentArgument(spec, ctx.positionals);
    const plan = await planSync(ctx.root, spec, env);
    ctx.stdout(ctx.values.json ? syncPlanJson(plan) : syncPlanText(plan, ctx.colour));
    return plan.findings.length ? 1 : 0;
  },
};
