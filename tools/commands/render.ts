import { join } from "node:path";
import type { Command } from "../cli.ts";
import { UsageError } from "../core/errors.ts";
import { repoPaths } from "../core/paths.ts";
import { render } from "../render/kustomize.ts";
import { loadSpec } from "../spec/load.ts";

export const renderCommand: Command = {
  name: "render",
  summary: "Print an environment's rendered manifests: the same bytes `kustomize build overlays/<env>` prints.",
  usage: "pnpm render <env> [--data]",
  help: "      --data        render the environment's data layer (overlays/<env>/data) instead\n",
  options: { data: { type: "boolean" } },
  async run(ctx) {
    const [env, ...extra] = ctx.positionals;
    const spec = await loadSpec(repoPaths(ctx.root).spec, ctx.root);
    const envs = Object.keys(spec.environments);
    if (!env || extra.length) throw new UsageError(`expected one environment: ${envs.join(", ")}`);
    if (!spec.environments[env]) throw new UsageError(`unknown environment "${env}"; environments: ${envs.join(", ")}`);
    ctx.stdout(await render(join(ctx.root, "overlays", env, ctx.values.data ? "data" : "")));
    return 0;
  },
};
