import type { Command } from "../cli.ts";
import { UsageError } from "../core/errors.ts";
import { repoPaths } from "../core/paths.ts";
import { environmentStatus, statusJson, statusText } from "../ops/status.ts";
import { loadSpec } from "../spec/load.ts";

export const statusCommand: Command = {
  name: "status",
  summary: "What runs where: every environment (in promotion order) × image, how far it is behind the stage before it, the commit that set it, and open deploy pull requests (with GITHUB_TOKEN).",
  usage: "pnpm status [--json] [--ref <rev>]",
  help:
    "      --json        print the status as JSON (environments in promotion order, keys in a fixed order)\n" +
    "      --ref <rev>   read the overlays at this revision (default: the branch Argo CD syncs, e.g. main)\n",
  options: { json: { type: "boolean" }, ref: { type: "string" } },
  maxPositionals: 0,
  async run(ctx) {
    if (ctx.positionals.length) throw new UsageError(`status takes no arguments, got ${ctx.positionals.join(" ")}`);
    const spec = await loadSpec(repoPaths(ctx.root).spec, ctx.root);
    const report = await environmentStatus(ctx.root, spec, { env: ctx.env, ref: typeof ctx.values.ref === "string" ? ctx.values.ref : undefined });
    ctx.stdout(ctx.values.json ? statusJson(report) : statusText(report, report.spec, ctx.colour));
    // A token was given but GitHub could not be asked: the pull-request part is missing.
    if (report.github?.error) {
      if (ctx.values.json) ctx.stderr(`warning: open pull requests could not be listed: ${report.github.error}\n`);
      return 1;
    }
    return 0;
  },
};
