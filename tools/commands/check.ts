import type { Command } from "../cli.ts";
import { formatAnnotations, formatJson, formatText } from "../check/report.ts";
import { runCheck } from "../check/run.ts";
import { repoPaths } from "../core/paths.ts";

export const checkCommand: Command = {
  name: "check",
  summary: "Prove base, overlays and Argo CD apps consistent and valid: drift, render, strict schema, patches, consistency, policy, Argo CD rules.",
  usage: "pnpm check [--json]",
  help: "      --json        print findings as JSON (file, line, path, rule, message)\n",
  options: { json: { type: "boolean" } },
  maxPositionals: 0,
  async run(ctx) {
    const started = performance.now();
    const result = await runCheck(ctx.root, repoPaths(ctx.root).spec);
    const ms = Math.round(performance.now() - started);
    if (ctx.values.json) ctx.stdout(formatJson(result.findings, { objects: result.objects, overlays: result.overlays }));
    else {
      ctx.stdout(formatText(result.findings, ctx.colour));
      if (result.findings.length === 0) ctx.stdout(`checked ${result.objects} objects from ${result.overlays} overlays in ${ms} ms\n`);
    }
    // Under GitHub Actions the findings also become annotations on the pull request's files.
    if (ctx.env.GITHUB_ACTIONS === "true" && result.findings.length) ctx.stdout(formatAnnotations(result.findings));
    return result.findings.length ? 1 : 0;
  },
};
