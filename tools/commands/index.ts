// Commands are loaded on demand: `pnpm render` need not load Octokit, nor `pnpm check` the git code.
import type { Command } from "../cli.ts";

export interface CommandEntry {
  name: string;
  summary: string;
  load: () => Promise<Command>;
}

export const commands: CommandEntry[] = [
  { name: "generate", summary: "Write overlays/<env>/ and argocd/ from overlays/environments.yaml.", load: async () => (await import("./generate.ts")).generateCommand },
  { name: "check", summary: "Prove base, overlays and Argo CD apps consistent and valid.", load: async () => (await import("./check.ts")).checkCommand },
  { name: "render", summary: "Print an environment's rendered manifests (kustomize build).", load: async () => (await import("./render.ts")).renderCommand },
  { name: "bump-image", summary: "Move an environment to a new image tag, on a branch, with a pull request.", load: async () => (await import("./release.ts")).bumpImageCommand },
  { name: "promote", summary: "Carry an environment's tag to the next stage, on a branch, with a pull request.", load: async () => (await import("./release.ts")).promoteCommand },
];
