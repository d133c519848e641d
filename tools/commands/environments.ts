// The spec's environments (promotion order) and images (with the short names deploy branches
// use), for scripts: the workflows take their defaults from here instead of naming `dev`.
import type { Command } from "../cli.ts";
import { UsageError } from "../core/errors.ts";
import { repoPaths } from "../core/paths.ts";
import { imageShortNames } from "../release/plan.ts";
import { loadSpec } from "../spec/load.ts";

export const environmentsCommand: Command = {
  name: "environments",
  summary: "The spec's environments in promotion order and its images with their short names (what the workflows default to).",
  usage: "pnpm environments [--first | --last] [--json]",
  help:
    "      --first   print only the first stage (where bump-image moves by default)\n" +
    "      --last    print only the last stage\n" +
    "      --json    {environments: [{name, namespace, sync}], images: [{name, short}]}\n",
  options: { first: { type: "boolean" }, last: { type: "boolean" }, json: { type: "boolean" } },
  maxPositionals: 0,
  async run(ctx) {
    if (ctx.values.first && ctx.values.last) throw new UsageError("give --first or --last, not both");
    const spec = await loadSpec(repoPaths(ctx.root).spec, ctx.root);
    const names = Object.keys(spec.environments);
    const shorts = imageShortNames(spec.images.map((i) => i.name));
    const picked = ctx.values.first ? names.slice(0, 1) : ctx.values.last ? names.slice(-1) : names;
    if (ctx.values.json) {
      const value = {
        environments: picked.map((name) => ({ name, namespace: spec.environments[name]!.namespace, sync: spec.environments[name]!.sync })),
        images: spec.images.map((i) => ({ name: i.name, short: shorts.get(i.name)! })),
      };
      ctx.stdout(`${JSON.stringify(value, null, 2)}\n`);
    } else ctx.stdout(picked.map((n) => `${n}\n`).join(""));
    return 0;
  },
};
