// rollback: a pull request that moves an environment back to a tag (or digest) it ran before,
// read from its history on the default branch (tools/ops/history.ts), through the same plan,
// branch, commit and pull-request machinery as bump-image (execute in ./release.ts). Unlike a
// rollback from the Argo CD UI it is recorded in git, works under auto-sync, and is a forward
// sync: the PreSync hook runs (the pull-request body says so).
import type { Command } from "../cli.ts";
import { UsageError, ValidationError, type Problem, unknownName } from "../core/errors.ts";
import { repoPaths } from "../core/paths.ts";
import type { ImageRef } from "../edit/kustomization.ts";
import { environmentHistory, kustomizationFile, refLabel, type TagChange } from "../ops/history.ts";
import { imageList, parseTarget, resolveImages } from "../release/plan.ts";
import { loadSpec } from "../spec/load.ts";
import { findStage, stageIds } from "../spec/stages.ts";
import { execute, locatedSpecProblems } from "./release.ts";

const SPEC_FILE = "overlays/environments.yaml";

function matches(entry: TagChange, ref: ImageRef): boolean {
  if (ref.digest !== undefined && entry.digest !== ref.digest) return false;
  if (ref.newTag !== undefined && entry.tag !== ref.newTag) return false;
  return true;
}

export const rollbackCommand: Command = {
  name: "rollback",
  summary: "Move an environment back to a tag or digest it ran before (default: the previous one), on a branch, with a pull request when GITHUB_TOKEN is set.",
  usage: "pnpm rollback <env> [--to <tag>[@sha256:<digest>] | --steps <n>] [--image <name>] [--force] [--dry-run] [--json] [--pr]",
  help:
    "      --to <ref>         the tag, tag@digest or digest to return to (one the environment ran, see `pnpm history <env>`)\n" +
    "      --steps <n>        go back n entries of the environment's history (default 1: the previous one)\n" +
    "      --image <name>     image to roll back, by name or short name (required when the spec has several)\n" +
    "      --force            allow a --to the environment never ran\n" +
    "      --dry-run          print what would change, with the rendered-manifest diff; write nothing\n" +
    "      --json             print the result as JSON\n" +
    "      --pr               require a pull request (fail without GITHUB_TOKEN)\n",
  options: {
    to: { type: "string" },
    steps: { type: "string" },
    image: { type: "string" },
    force: { type: "boolean" },
    "dry-run": { type: "boolean" },
    json: { type: "boolean" },
    pr: { type: "boolean" },
  },
  async run(ctx) {
    const spec = await loadSpec(repoPaths(ctx.root).spec, ctx.root);
    if (ctx.positionals.length !== 1) throw new UsageError(`expected one environment: ${stageIds(spec).join(", ")}`);
    const env = ctx.positionals[0]!;
    const to = typeof ctx.values.to === "string" ? ctx.values.to : undefined;
    const stepsText = typeof ctx.values.steps === "string" ? ctx.values.steps : undefined;
    if (to !== undefined && stepsText !== undefined) throw new UsageError("give either --to <tag> or --steps <n>, not both");
    if (stepsText !== undefined && !/^[1-9]\d*$/.test(stepsText)) throw new UsageError(`--steps takes a positive whole number, got ${JSON.stringify(stepsText)}`);
    const steps = stepsText === undefined ? 1 : Number(stepsText);

    const problems: Problem[] = [];
    // A stage: an environment, or one cluster of an environment on several ("prod/prod-eu").
    if (!findStage(spec, env)) problems.push({ file: SPEC_FILE, path: "environments", message: unknownName("environment", env, stageIds(spec)) });
    const wanted = typeof ctx.values.image === "string" ? ctx.values.image : undefined;
    // Images have lives of their own: with several, a rollback names the one it moves back.
    if (wanted === undefined && spec.images.length > 1) throw new UsageError(`the spec has ${spec.images.length} images: say which one to roll back with --image <name>: ${imageList(spec)}`);
    const chosen = wanted === undefined ? spec.images.map((i) => i.name) : resolveImages(spec, [wanted], problems, SPEC_FILE);
    const target = to === undefined ? undefined : parseTarget(to, undefined);
    for (const message of target?.problems ?? []) problems.push({ file: "<arguments>", path: "--to", message });
    if (problems.length) throw new ValidationError(await locatedSpecProblems(ctx.root, problems));

    const images = chosen;
    // The history of the branch Argo CD syncs: what the environment actually ran.
    const history = await environmentHistory(ctx.root, spec, env, { images });
    const file = kustomizationFile(env);
    const targets: { image: string; ref: ImageRef }[] = [];
    for (const image of images) {
      const entries = history.entries.filter((e) => e.image === image);
      const ran = entries.map((e) => refLabel(e)).join(", ") || "none";
      if (target) {
        const found = entries.find((e) => matches(e, target.ref));
        if (found) targets.push({ image, ref: { newTag: found.tag ?? undefined, digest: found.digest ?? undefined } });
        else if (ctx.values.force) targets.push({ image, ref: target.ref });
        else {
          problems.push({
            file,
            path: "images",
            message: `${env} never ran ${image} ${JSON.stringify(to)} (history of ${file} on ${history.ref}: ${ran}); pass --force to deploy it anyway`,
          });
        }
      } else {
        const entry = entries[steps];
        if (entry) targets.push({ image, ref: { newTag: entry.tag ?? undefined, digest: entry.digest ?? undefined } });
        else problems.push({ file, path: "images", message: `${env} has no entry ${steps} step${steps === 1 ? "" : "s"} back for ${image} (history of ${file} on ${history.ref}: ${ran})` });
      }
    }
    if (problems.length) throw new ValidationError(problems);
    return execute(ctx, spec, { kind: "rollback", env, targets, allowDowngrade: true });
  },
};
