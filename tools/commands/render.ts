import { join } from "node:path";
import type { Command } from "../cli.ts";
import { repoPaths } from "../core/paths.ts";
import { render } from "../render/kustomize.ts";
import { environmentArgument, loadSpec } from "../spec/load.ts";

export const renderCommand: Command = {
  name: "render",
  summary: "Print an environment's rendered manifests: the same bytes `kustomize build overlays/<env>` prints.",
  usage: "pnpm render <env> [--data]",
  help: "      --data        render the environment's data layer (overlays/<env>/data) instead\n",
  options: { data: { type: "boolean" } },
  maxPositionals: 1,
  async run(ctx) {
    const spec = await loadSpec(repoPaths(ctx.root).spec, ctx.root);
    const env = environmentArgument(spec, ctx.positionals);
    ctx.stdout(await render(join(ctx.root, "overlays", env, ctx.values.data ? "data" : ""), { root: ctx.root }));
    return 0;
  },
};
