import { join } from "node:path";
import type { Command } from "../cli.ts";
import { repoPaths } from "../core/paths.ts";
import { render } from "../render/kustomize.ts";
import { UsageError, unknownName } from "../core/errors.ts";
import { environmentArgument, loadSpec } from "../spec/load.ts";
import { layerNames, overlayDir, primaryLayer } from "../spec/model.ts";

export const renderCommand: Command = {
  name: "render",
  summary: "Print an environment's rendered manifests: the same bytes `kustomize build overlays/<env>` prints.",
  usage: "pnpm render <env> [--layer <name>] [--data]",
  help:
    "      --layer <name>  render that layer of the spec instead of the primary (overlays/<env>/<name>)\n" +
    "      --data          the same as --layer data\n",
  options: { layer: { type: "string" }, data: { type: "boolean" } },
  maxPositionals: 1,
  async run(ctx) {
    const spec = await loadSpec(repoPaths(ctx.root).spec, ctx.root);
    const env = environmentArgument(spec, ctx.positionals);
    const layer = (ctx.values.layer as string | undefined) ?? (ctx.values.data ? "data" : primaryLayer(spec).name);
    if (ctx.values.layer !== undefined && ctx.values.data) throw new UsageError("--data is --layer data: give one of them");
    if (!layerNames(spec).includes(layer)) throw new UsageError(unknownName("layer", layer, layerNames(spec)));
    ctx.stdout(await render(join(ctx.root, overlayDir(spec, env, layer)), { root: ctx.root }));
    return 0;
  },
};
