import type { Command } from "../cli.ts";
import { PreconditionError } from "../core/errors.ts";
import { unifiedDiff } from "../diff/unified.ts";
import { applyChanges, planChanges } from "../generate/apply.ts";
import { repoPaths } from "../core/paths.ts";
import { loadSpec } from "../spec/load.ts";

export const generateCommand: Command = {
  name: "generate",
  summary: "Write overlays/<env>/ and argocd/ from overlays/environments.yaml (keeps each overlay's image tags).",
  usage: "pnpm generate [--dry-run] [--json] [--rename-app]",
  help:
    "      --dry-run     print what would change (a diff) and write nothing\n      --json        print the changed paths as JSON\n" +
    "      --rename-app  confirm renaming the app (spec name): every Argo CD Application is replaced\n",
  options: { "dry-run": { type: "boolean" }, json: { type: "boolean" }, "rename-app": { type: "boolean" } },
  maxPositionals: 0,
  async run(ctx) {
    const paths = repoPaths(ctx.root);
    const spec = await loadSpec(paths.spec, ctx.root);
    const { changes, notes, renamedApp } = await planChanges(ctx.root, spec);
    const dryRun = Boolean(ctx.values["dry-run"]);
    if (renamedApp && !ctx.values["rename-app"]) {
      // Argo CD knows an Application by its name: the root Application (prune on) deletes the old
      // ones, and their resources-finalizer deletes every workload they deployed, before the new
      // ones recreate them (argocd/root.yaml; Argo CD's app deletion cascades by default).
      throw new PreconditionError(
        `${dryRun ? "--dry-run: the real run would refuse: " : ""}the spec renames the app from ${renamedApp.from} to ${renamedApp.to}, which renames its Argo CD Applications (${renamedApp.applications.join(", ")}). ` +
          "The root Application prunes the old ones, and with them every workload they deployed, before the new ones create everything again (downtime; the PVCs and StatefulSets are kept). " +
          "Pass --rename-app to go ahead, or keep the old name.",
      );
    }
    if (!dryRun) await applyChanges(ctx.root, changes);
    if (ctx.values.json) {
      ctx.stdout(`${JSON.stringify({ dryRun, changed: changes.map((c) => ({ path: c.path, action: c.before === undefined ? "create" : c.after === undefined ? "delete" : "update" })), notes }, null, 2)}\n`);
      return 0;
    }
    if (changes.length) for (const note of notes) ctx.stdout(`note: ${note}\n`);
    if (renamedApp) ctx.stdout(`note: the app is renamed from ${renamedApp.from} to ${renamedApp.to}: Argo CD replaces ${renamedApp.applications.join(", ")}\n`);
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
