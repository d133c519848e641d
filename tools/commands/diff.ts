// `pnpm diff`: what merging this branch changes in every environment, rendered by the real
// kustomize at the base ref and in the working tree. The same output locally and in CI, where it
// is also posted as one pull-request comment (updated in place) and written to the job summary.
import { appendFile, readFile } from "node:fs/promises";
import { resolve } from "node:path";
import type { Command, CommandContext } from "../cli.ts";
import { PreconditionError, UsageError } from "../core/errors.ts";
import { repoPaths } from "../core/paths.ts";
import { githubToken } from "../core/secrets.ts";
import { progress } from "../core/term.ts";
import { parseYaml } from "../core/yaml.ts";
import { formatDiffMarkdown, formatDiffText } from "../diff/format.ts";
import { diffSnapshots, imageChanges, renderSnapshot, renderSnapshotAt, snapshotErrors } from "../diff/manifests.ts";
import { revParse, remoteUrl, showFile } from "../git/git.ts";
import { loadSpec } from "../spec/load.ts";
import { RenderCache } from "../render/cache.ts";
import { stageIds } from "../spec/stages.ts";

export const DIFF_COMMENT_MARKER = "<!-- gitops:rendered-diff -->";

async function environmentsAt(root: string, rev: string): Promise<string[]> {
  const text = await showFile(root, rev, "overlays/environments.yaml");
  if (!text) return [];
  try {
    const value = parseYaml(text, "overlays/environments.yaml") as { environments?: Record<string, { clusters?: { name?: unknown }[] } | null> } | null;
    // Stages, as tools/spec/stages.ts names them: an environment on several clusters is one per cluster.
    return Object.entries(value?.environments ?? {}).flatMap(([env, e]) => {
      const clusters = Array.isArray(e?.clusters) ? e.clusters.map((c) => c?.name).filter((n): n is string => typeof n === "string") : [];
      return clusters.length ? clusters.map((c) => `${env}/${c}`) : [env];
    });
  } catch {
    return [];
  }
}

export const diffCommand: Command = {
  name: "diff",
  summary: "Render every environment at a git ref and in the working tree, and print the rendered-manifest difference.",
  usage: "pnpm diff [--base <ref>] [--format text|markdown] [--no-cache] [--comment <pull-request> [--post <file>]]",
  help:
    "      --base <ref>        what to compare against (default: HEAD; in a pull request: origin/<base branch>)\n" +
    "      --format <f>        text (default) or markdown (collapsible, fits GitHub's 65,536-character limit)\n" +
    "      --comment <number>  post the markdown as one comment on that pull request, updated in place (needs GITHUB_TOKEN)\n" +
    "      --post <file>       with --comment: post this file (the output of --format markdown, made by another job) instead of rendering\n" +
    "      --no-cache          render every overlay (default: reuse renders whose inputs are unchanged, from .cache/renders/)\n",
  options: { base: { type: "string" }, format: { type: "string" }, comment: { type: "string" }, post: { type: "string" }, "no-cache": { type: "boolean" } },
  maxPositionals: 0,
  async run(ctx) {
    const format = (ctx.values.format as string | undefined) ?? "text";
    if (format !== "text" && format !== "markdown") throw new UsageError(`--format takes text or markdown, not ${JSON.stringify(format)}`);
    const comment = ctx.values.comment as string | undefined;
    if (comment !== undefined && !/^[1-9]\d*$/.test(comment)) throw new UsageError(`--comment takes a pull-request number, not ${JSON.stringify(comment)}`);
    if (ctx.positionals.length) throw new UsageError(`unexpected argument ${JSON.stringify(ctx.positionals[0])}`);
    const post = ctx.values.post as string | undefined;
    if (post !== undefined) {
      // The privileged half of the pull-request workflow: it holds a write token, so it renders
      // nothing and runs none of the pull request's code; it only posts what the read-only job made.
      if (comment === undefined) throw new UsageError("--post needs --comment <pull-request>");
      const text = await readFile(resolve(post), "utf8").catch(() => {
        throw new PreconditionError(`--post ${post}: no such file (the rendered-diff artifact is missing)`);
      });
      if (!text.startsWith(DIFF_COMMENT_MARKER)) throw new PreconditionError(`--post ${post}: not the output of \`pnpm diff --format markdown\` (it must start with ${DIFF_COMMENT_MARKER})`);
      await postComment(ctx, Number(comment), text);
      return 0;
    }
    const base = (ctx.values.base as string | undefined) ?? "HEAD";
    if (!(await revParse(ctx.root, base))) throw new UsageError(`--base ${base} is not a commit in this repository (for a pull request, fetch the base branch first)`);

    const spec = await loadSpec(repoPaths(ctx.root).spec, ctx.root);
    const current = stageIds(spec);
    const envs = [...current, ...(await environmentsAt(ctx.root, base)).filter((e) => !current.includes(e))];
    progress(`diff: rendering ${envs.length} environments at ${base} and in the working tree`);
    const cache = ctx.values["no-cache"] === true ? RenderCache.disabled(ctx.root) : await RenderCache.forRepository(ctx.root);
    if (cache.refused && cache.refused !== "disabled") ctx.stderr(`diff: render cache off: ${cache.refused}\n`);
    const [before, after] = await Promise.all([renderSnapshotAt(ctx.root, base, envs, cache), renderSnapshot(ctx.root, envs, undefined, cache)]);
    if (cache.stats.writes) await cache.prune();
    const changes = diffSnapshots(before, after, envs);
    const images = imageChanges(before, after, envs);
    const errors = [...snapshotErrors(before).map((e) => `${base}: ${e}`), ...snapshotErrors(after).map((e) => `working tree: ${e}`)];

    const markdown = () =>
      formatDiffMarkdown(changes, envs, {
        images,
        preface: `${DIFF_COMMENT_MARKER}\n## Rendered diff against \`${base}\`${errors.length ? `\n\n> [!WARNING]\n> Some overlays did not render:\n${errors.map((e) => `> - ${e.split("\n")[0]}`).join("\n")}` : ""}`,
      });
    if (format === "markdown") ctx.stdout(markdown());
    else {
      ctx.stdout(formatDiffText(changes, envs, ctx.colour, images));
      for (const e of errors) ctx.stderr(`render failed: ${e}\n`);
    }
    if (ctx.env.GITHUB_STEP_SUMMARY) await appendFile(ctx.env.GITHUB_STEP_SUMMARY, markdown());
    if (comment !== undefined) await postComment(ctx, Number(comment), markdown());
    return errors.length ? 1 : 0;
  },
};

async function postComment(ctx: CommandContext, issueNumber: number, body: string): Promise<void> {
  const token = githubToken(ctx.env);
  if (!token) throw new PreconditionError("--comment needs GITHUB_TOKEN (pull-requests: write)");
  const { createGitHubClient, resolveRepository } = await import("../github/client.ts");
  const { upsertComment } = await import("../github/pull-request.ts");
  const { owner, repo } = resolveRepository({ env: ctx.env, originUrl: await remoteUrl(ctx.root) });
  const octokit = createGitHubClient({ token, baseUrl: ctx.env.GITHUB_API_URL || undefined, log: (l) => ctx.stderr(`${l}\n`) });
  const result = await upsertComment(octokit, { owner, repo, issueNumber, marker: DIFF_COMMENT_MARKER, body });
  ctx.stderr(`diff: comment ${result.id} ${result.action} on #${issueNumber}\n`);
}
