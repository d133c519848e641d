import type { Command } from "../cli.ts";
import { unifiedDiff } from "../diff/unified.ts";
import { applyChanges, planChanges } from "../generate/apply.ts";
import { repoPaths } from "../core/paths.ts";
import { loadSpec } from "../spec/load.ts";

export const generateCommand: Command = {
  name: "generate",
  summary: "Write overlays/<env>/ and argocd/ from overlays/environments.yaml (keeps each overlay's image tags).",
  usage: "pnpm generate [--dry-run] [--json]",
  help: "      --dry-run     print what would change (a diff) and write nothing\n      --json        print the changed paths as JSON\n",
  options: { "dry-run": { type: "boolean" }, json: { type: "boolean" } },
  async run(ctx) {
    const paths = repoPaths(ctx.root);
    const spec = await loadSpec(paths.spec, ctx.root);
    const { changes } = await planChanges(ctx.root, spec);
    const dryRun = Boolean(ctx.values["dry-run"]);
    if (!dryRun) await applyChanges(ctx.root, changes);
    if (ctx.values.json) {
      ctx.stdout(`${JSON.stringify({ dryRun, changed: changes.map((c) => ({ path: c.path, action: c.before === undefined ? "create" : c.after === undefined ? "delete" : "update" })) }, null, 2)}\n`);
      return 0;
    }
    if (changes.length === 0) {
      ctx.stdout("generate: everything is up to date\n");
      return 0;
    }
    for (const c of changes) {
      if (dryRun) ctx.stdout(unifiedDiff(c.before ?? "", c.after ?? "", c.before === undefined ? "/dev/null" : `a/${c.path}`, c.after === undefined ? "/dev/null" : `b/${c.path}`));
      else ctx.stdout(`${c.before === undefined ? "created" : c.after === undefined ? "deleted" : "updated"} ${c.path}\n`);
    }
    ctx.stdout(`generate: ${changes.length} file${changes.length === 1 ? "" : "s"} ${dryRun ? "would change" : "changed"}\n`);
    return 0;
  },
};
