import type { Command } from "../cli.ts";
import { UsageError, type Problem } from "../core/errors.ts";
import { resolveImages } from "../release/plan.ts";
import { repoPaths } from "../core/paths.ts";
import { environmentHistory, historyJson, historyText } from "../ops/history.ts";
import { environmentArgument, loadSpec } from "../spec/load.ts";

export const historyCommand: Command = {
  name: "history",
  summary: "The tags an environment has run, newest first, from the first-parent git history of its overlay: commit, date, author, pull request; the current one, the one a UI rollback returns to, the commit a git revert undoes.",
  usage: "pnpm history <env> [--limit <n>] [--image <name>] [--ref <rev>] [--json]",
  help:
    "      --limit <n>     show the newest n entries (default: all)\n" +
    "      --image <name>  only this image, by name or short name (default: every image of the spec)\n" +
    "      --ref <rev>     read the history of this revision (default: the branch Argo CD syncs, e.g. main)\n" +
    "      --json          print the entries as JSON\n",
  options: { limit: { type: "string" }, image: { type: "string" }, ref: { type: "string" }, json: { type: "boolean" } },
  maxPositionals: 1,
  async run(ctx) {
    const spec = await loadSpec(repoPaths(ctx.root).spec, ctx.root);
    const env = environmentArgument(spec, ctx.positionals);
    let limit: number | undefined;
    if (typeof ctx.values.limit === "string") {
      if (!/^[1-9]\d*$/.test(ctx.values.limit)) throw new UsageError(`--limit takes a positive whole number, got "${ctx.values.limit}"`);
      limit = Number(ctx.values.limit);
    }
    let images: string[] | undefined;
    if (typeof ctx.values.image === "string") {
      const problems: Problem[] = [];
      images = resolveImages(spec, [ctx.values.image], problems, "overlays/environments.yaml");
      if (problems.length) throw new UsageError(problems[0]!.message);
    }
    const report = await environmentHistory(ctx.root, spec, env, { ref: typeof ctx.values.ref === "string" ? ctx.values.ref : undefined, limit, images });
    ctx.stdout(ctx.values.json ? historyJson(report) : historyText(report, ctx.colour));
    return 0;
  },
};
