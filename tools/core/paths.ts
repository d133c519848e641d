import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository this checkout of the tools belongs to. */
export const TOOLS_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");

/** Where things live inside a repository root; tests pass a temp clone's root. */
export function repoPaths(root: string) {
  return {
    root,
    spec: join(root, "overlays", "environments.yaml"),
    base: join(root, "base"),
    overlays: join(root, "overlays"),
    overlay: (env: string) => join(root, "overlays", env),
    kustomization: (env: string) => join(root, "overlays", env, "kustomization.yaml"),
    argocd: join(root, "argocd"),
  };
}
