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
  { name: "diff", summary: "Rendered-manifest difference of every environment between a git ref and the working tree.", load: async () => (await import("./diff.ts")).diffCommand },
  { name: "bump-image", summary: "Move an environment to a new image tag, on a branch, with a pull request.", load: async () => (await import("./release.ts")).bumpImageCommand },
  { name: "promote", summary: "Carry an environment's tag to the next stage, on a branch, with a pull request.", load: async () => (await import("./release.ts")).promoteCommand },
  { name: "rollback", summary: "Move an environment back to a tag it ran before, on a branch, with a pull request.", load: async () => (await import("./rollback.ts")).rollbackCommand },
  { name: "status", summary: "What runs where: environments × images, how far behind, open deploy pull requests.", load: async () => (await import("./status.ts")).statusCommand },
  { name: "plan", summary: "What a full Argo CD sync of an environment does, in Argo CD's order.", load: async () => (await import("./plan.ts")).planCommand },
  { name: "environments", summary: "The spec's environments in promotion order and its images with their short names.", load: async () => (await import("./environments.ts")).environmentsCommand },
  { name: "history", summary: "The tags an environment has run, from the git history of its overlay.", load: async () => (await import("./history.ts")).historyCommand },
];
