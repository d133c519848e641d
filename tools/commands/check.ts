import type { Command } from "../cli.ts";
import { formatAnnotations, formatJson, formatText } from "../check/report.ts";
import { runCheck } from "../check/run.ts";
import { parseShard } from "../check/shard.ts";
import { RenderCache } from "../render/cache.ts";
import { repoPaths } from "../core/paths.ts";

export const checkCommand: Command = {
  name: "check",
  summary: "Prove base, overlays and Argo CD apps consistent and valid: drift, render, strict schema, patches, consistency, policy, Argo CD rules.",
  usage: "pnpm check [--json] [--kustomize-versions] [--no-cache] [--shard <i>/<n>]",
  help:
    "      --json                print findings as JSON (file, line, path, rule, message)\n" +
    "      --kustomize-versions  also render every overlay and argocd/ with every installed kustomize (the versions\n" +
    "                            Argo CD releases bundle) and report each that fails or differs from the default\n" +
    "      --no-cache            render every overlay (default: reuse renders whose inputs are unchanged, from .cache/renders/)\n" +
    "      --shard <i>/<n>       check only the i-th of n shards of the environments (CI matrix; repository-wide findings in shard 1)\n",
  options: { json: { type: "boolean" }, "kustomize-versions": { type: "boolean" }, "no-cache": { type: "boolean" }, shard: { type: "string" } },
  maxPositionals: 0,
  async run(ctx) {
    const started = performance.now();
    const kustomizeVersions = ctx.values["kustomize-versions"] === true;
    const shard = typeof ctx.values.shard === "string" ? parseShard(ctx.values.shard) : undefined;
    const cache = ctx.values["no-cache"] === true ? RenderCache.disabled(ctx.root) : await RenderCache.forRepository(ctx.root);
    const result = await runCheck(ctx.root, repoPaths(ctx.root).spec, { kustomizeVersions, cache, shard });
    if (cache.stats.writes) await cache.prune();
    const ms = Math.round(performance.now() - started);
    if (ctx.values.json) ctx.stdout(formatJson(result.findings, { objects: result.objects, overlays: result.overlays, ...(result.versions ? { kustomizeVersions: result.versions } : {}) }));
    else {
      ctx.stdout(formatText(result.findings, ctx.colour));
      if (result.findings.length === 0) ctx.stdout(`checked ${result.objects} objects from ${result.overlays} overlays in ${ms} ms\n`);
      if (result.versions) {
        ctx.stdout(`kustomize versions: ${result.versions.join(", ")}${result.versions.length < 2 ? " (only the default one is installed: `pnpm install` with devDependencies extracts the others)" : ""}\n`);
      }
    }
    // Under GitHub Actions the findings also become annotations on the pull request's files.
    if (ctx.env.GITHUB_ACTIONS === "true" && result.findings.length) ctx.stdout(formatAnnotations(result.findings));
    return result.findings.length ? 1 : 0;
  },
};
