// bump-image and promote: one flow (plan → rendered diff → apply), two ways to say the target.
import { appendFile, readFile } from "node:fs/promises";
import { join } from "node:path";
import type { Command, CommandContext } from "../cli.ts";
import { PreconditionError, ToolError, UsageError, ValidationError, type Problem, unknownName, didYouMean } from "../core/errors.ts";
import { repoPaths } from "../core/paths.ts";
import { githubToken } from "../core/secrets.ts";
import { progress } from "../core/term.ts";
import { formatDiffText } from "../diff/format.ts";
import { diffSnapshots, renderSnapshot, renderSnapshotWith, snapshotErrors, PRIMARY_OVERLAY, type Layer } from "../diff/manifests.ts";
import { git, revParse, showFile, tryGit } from "../git/git.ts";
import { applyRelease, checkBranchStart, checkPreconditions, defaultBranch, lockRepository } from "../release/apply.ts";
import type { RepositoryLock } from "../release/lock.ts";
import { preSyncHooks, pullRequestBody } from "../release/body.ts";
import { evaluateGates, GateRefusal, gatesCommitText, gatesMarkdown, gatesStatus, gatesText, hasGates, parseOverrides, setGatesStatus, type GateReport } from "../release/gates.ts";
import { holdProblems, loadHolds } from "../release/holds.ts";
import { compareSemver } from "../edit/tag.ts";
import type { ImageRef } from "../edit/kustomization.ts";
import { branchPrefix, currentRefs, imageList, parseTarget, resolveImages, planRelease, refText, shortImageName, type PlanRequest, type ReleasePlan } from "../release/plan.ts";
import { loadSpec } from "../spec/load.ts";
import type { Spec } from "../spec/schema.ts";
import { findStage, nextGroup, previousGroup, stageIds, stages, stagesOf, type Stage } from "../spec/stages.ts";

const COMMON_HELP =
  "      --dry-run          print what would change, with the rendered-manifest diff; write nothing\n" +
  "      --override <gate>=<reason>  pass a refusing gate (soak, checks, window) anyway; the reason is recorded\n" +
  "      --if-gates-pass    when a gate or a hold refuses, report why (and in the job summary) and exit 0\n" +
  "      --json             print the result as JSON\n" +
  "      --pr               require a pull request (fail without GITHUB_TOKEN)\n" +
  "      --allow-downgrade  allow moving to a lower semver tag\n";

const COMMON_OPTIONS = {
  "dry-run": { type: "boolean" },
  json: { type: "boolean" },
  pr: { type: "boolean" },
  "allow-downgrade": { type: "boolean" },
  image: { type: "string" },
  override: { type: "string", multiple: true },
  "if-gates-pass": { type: "boolean" },
} as const;

/** Problems about the spec with the line of their path in it (read only when there are problems). */
export async function locatedSpecProblems(root: string, problems: Problem[]): Promise<Problem[]> {
  const specPath = repoPaths(root).spec;
  const text = await readFile(specPath, "utf8").catch(() => undefined);
  if (text === undefined) return problems;
  const { withLines } = await import("../spec/load.ts");
  return Promise.all(problems.map(async (p) => (p.file === "overlays/environments.yaml" ? (await withLines([p], text))[0]! : p)));
}

/** Appends to GitHub Actions' job summary when there is one. */
async function jobSummary(ctx: CommandContext, markdown: string): Promise<void> {
  const file = ctx.env.GITHUB_STEP_SUMMARY;
  if (file) await appendFile(file, `${markdown}\n`);
}

/**
 * Holds, then gates (tools/release/holds.ts, tools/release/gates.ts): evaluated after the plan is
 * known and before anything is rendered or written. A rollback passes no gate (it is the way out
 * of a bad release) but respects holds like every other move.
 */
async function admit(ctx: CommandContext, spec: Spec, plan: ReleasePlan): Promise<GateReport | undefined> {
  const moving = plan.moves.filter((m) => refText(m.before) !== refText(m.after)).map((m) => m.image);
  const held = holdProblems(await loadHolds(ctx.root, spec), plan.env, moving);
  if (held.length) throw new ValidationError(held);
  const overrides = parseOverrides(ctx.values.override as unknown as string[] | undefined);
  if (plan.kind === "rollback") {
    if (overrides.size) throw new UsageError("no gate applies to a rollback: --override has nothing to override");
    return undefined;
  }
  if (!hasGates(spec, plan.env) && overrides.size === 0) return undefined;
  const report = await evaluateGates(ctx.root, spec, { env: plan.env, moves: plan.moves, overrides, processEnv: ctx.env });
  if (!report.passed) throw new GateRefusal(report);
  return report;
}


/**
 * A real run holds the repository lock from its first check to its last write (two runs in one
 * clone would mix their edits), and first finishes or undoes what a killed run left.
 */
export async function execute(ctx: CommandContext, spec: Spec, request: PlanRequest): Promise<number> {
  if (ctx.values["dry-run"]) return executeLocked(ctx, spec, request, undefined);
  const log = (line: string) => ctx.stderr(`${line}\n`);
  const what = `${request.kind === "bump" ? "bump-image" : request.kind} ${request.env}`;
  let lock: RepositoryLock;
  try {
    lock = await lockRepository(ctx.root, what, log);
  } catch (error) {
    // Not a git repository: the preconditions say so in their words.
    if (error instanceof ToolError) await checkPreconditions(ctx.root, { env: ctx.env, requirePullRequest: false });
    throw error;
  }
  try {
    return await executeLocked(ctx, spec, request, lock);
  } finally {
    await lock.release();
  }
}

async function executeLocked(ctx: CommandContext, spec: Spec, request: PlanRequest, lock: RepositoryLock | undefined): Promise<number> {
  const dryRun = Boolean(ctx.values["dry-run"]);
  const json = Boolean(ctx.values.json);
  const wantsPullRequest = Boolean(ctx.values.pr || githubToken(ctx.env));
  // Preconditions of the tree first, then the plan: both say what is wrong before anything
  // changes. A dry run checks exactly what the real run checks, and says what it would refuse.
  const current = (await asDryRun(dryRun, () => checkPreconditions(ctx.root, { env: ctx.env, requirePullRequest: Boolean(ctx.values.pr) }))).branch;
  // A broken holds file is an error even when there is nothing to move (it would hide a hold).
  await loadHolds(ctx.root, spec);
  let plan = await planRelease(ctx.root, spec, request);
  let commit = plan.changed;
  let existing: string | undefined;

  if (!plan.changed && wantsPullRequest && current.startsWith(branchPrefix(plan.env))) {
    // A re-run on the deploy branch (say, after a failed pull-request step): the change is
    // committed already; describe it against the default branch and finish push and pull request.
    const base = await defaultBranch(ctx.root);
    const baseText = await showFile(ctx.root, base, plan.file);
    const again = baseText === undefined ? undefined : await planRelease(ctx.root, spec, { ...request, baseText });
    if (again && again.branch === current) {
      plan = again;
      commit = false;
    }
  }
  if (!plan.changed) {
    // Already there (or, on a deploy branch, already merged into the default branch).
    const already = plan.unchanged.map((m) => `${m.image} ${refText(m.after)}`).join(", ");
    if (json) ctx.stdout(`${JSON.stringify({ dryRun, ...summary(plan), committed: false }, null, 2)}\n`);
    else if (plan.kind === "promote") ctx.stdout(`nothing to promote: ${plan.env} already runs ${already}, as ${plan.from} does.\n`);
    else ctx.stdout(`${plan.env} already runs ${already}: nothing to do.\n`);
    return 0;
  } else if (commit) {
    const start = await asDryRun(dryRun, async () => {
      const state = await checkBranchStart(ctx.root, plan, current);
      await checkBaseUpToDate(ctx.root);
      return state;
    });
    if (start.holds) {
      // The same move again (same environment, images and values): its branch holds it already.
      existing = start.holds;
      commit = false;
      if (dryRun || !wantsPullRequest) {
        const text = `branch ${plan.branch} already holds this move (commit ${existing.slice(0, 12)}): nothing to do.`;
        if (json) ctx.stdout(`${JSON.stringify({ dryRun, ...summary(plan), committed: false, unchanged: true, commit: existing }, null, 2)}\n`);
        else ctx.stdout(`${plan.title}\n${text}${dryRun ? "" : ` To deploy: git push -u origin ${plan.branch} and open a pull request (or set GITHUB_TOKEN and run this again).`}\n`);
        return 0;
      }
    }
  }

  let gates: GateReport | undefined;
  try {
    gates = await admit(ctx, spec, plan);
  } catch (error) {
    const refusal = error instanceof GateRefusal ? error : error instanceof ValidationError && error.problems.some((p) => p.file === "overlays/holds.yaml") ? error : undefined;
    if (refusal) {
      await jobSummary(ctx, refusal instanceof GateRefusal ? gatesMarkdown(refusal.report) : `### ${plan.env} is held\n\n${refusal.problems.map((p) => `- ${p.message}`).join("\n")}\n`);
      if (ctx.values["if-gates-pass"]) {
        const why = refusal instanceof GateRefusal ? gatesText(refusal.report) : refusal.problems.map((p) => `  ${p.message}\n`).join("");
        if (json) ctx.stdout(`${JSON.stringify({ dryRun, ...summary(plan), committed: false, refused: true, ...(refusal instanceof GateRefusal ? { gates: refusal.report } : { holds: refusal.problems }) }, null, 2)}\n`);
        else ctx.stdout(`Not moving ${plan.env}: ${refusal instanceof GateRefusal ? "its gates refuse" : "it is held"} (nothing written).\n${why}`);
        return 0;
      }
    }
    throw error;
  }
  if (gates) {
    plan = { ...plan, commitMessage: `${plan.commitMessage}${gatesCommitText(gates)}` };
    await jobSummary(ctx, gatesMarkdown(gates));
    if (!json) ctx.stderr(`gates into ${plan.env}:\n${gatesText(gates)}`);
  }

  const envs = [plan.env];
  // The new state must build before anything is written (a tag like `yes` once broke it).
  const rendered = await diffOf(ctx.root, plan, envs);
  if (rendered.errors.length) {
    throw new ToolError(`${plan.file} would not render after this change, so nothing was written:\n${rendered.errors.join("\n")}`);
  }
  if (dryRun) {
    const diff = rendered.changes;
    if (json) ctx.stdout(`${JSON.stringify({ dryRun: true, ...summary(plan), resources: diff.map(({ diff: _d, ...rest }) => rest), ...(gates ? { gates } : {}) }, null, 2)}\n`);
    else ctx.stdout(`Would ${plan.title} on branch ${plan.branch}\n\n${formatDiffText(diff, envs, ctx.colour)}`);
    return 0;
  }
  const result = await applyRelease(ctx.root, plan, {
    env: ctx.env,
    commit,
    requirePullRequest: Boolean(ctx.values.pr),
    body: async () => pullRequestBody(plan, spec, rendered.changes, plan.kind === "rollback" ? undefined : gates ? gatesMarkdown(gates) : undefined, rendered.hooks),
    labels: ["deploy", `env:${plan.env}`, ...plan.moves.map((m) => `image:${shortImageName(spec, m.image)}`.slice(0, 50))],
    log: (line) => ctx.stderr(`${line}\n`),
    lock: lock!,
    existing,
  });
  if (result.unchanged) {
    const pr = result.pullRequest;
    if (json) ctx.stdout(`${JSON.stringify({ dryRun: false, ...summary(plan), committed: false, ...result }, null, 2)}\n`);
    else {
      ctx.stdout(`${plan.title}\nbranch ${plan.branch} already holds this move (commit ${result.commit.slice(0, 12)}): nothing to do.\n`);
      if (pr) ctx.stdout(`pull request #${pr.number} is open: ${pr.url}\n`);
      if (result.nextStep) ctx.stdout(`${result.nextStep}\n`);
    }
    return 0;
  }
  if (result.pushed) {
    // Branch protection can require this status: set on every deploy branch, so an ungated
    // environment's pull request is not left waiting for it.
    const what = plan.kind === "rollback" ? "rollback, gates do not apply" : `${plan.kind} into ${plan.env}`;
    await setGatesStatus(ctx.root, ctx.env, result.commit, plan.kind === "rollback" ? { state: "success", description: what } : gatesStatus(gates, what));
  }
  // git commits under a stand-in identity when none is configured (see git.ts): say whose it is.
  const author = commit ? await commitAuthor(ctx.root, result.commit) : undefined;
  if (author && !author.configured) ctx.stderr(`note: no git identity is configured here, so the commit's author is ${author.name}; set user.name and user.email to commit as yourself\n`);
  if (json) {
    ctx.stdout(`${JSON.stringify({ dryRun: false, ...summary(plan), committed: commit, ...result, ...(author ? { author: author.name } : {}) }, null, 2)}\n`);
  } else {
    if (commit) ctx.stdout(`${plan.title}\ncommitted ${result.commit.slice(0, 12)} on branch ${result.branch}\n`);
    if (result.pullRequest) {
      const pr = result.pullRequest;
      ctx.stdout(`pull request #${pr.number} ${pr.action}: ${pr.url}\n`);
      if (pr.superseded.length) ctx.stdout(`superseded and closed: ${pr.superseded.map((n) => `#${n}`).join(", ")}\n`);
    }
    if (result.nextStep) ctx.stdout(`${result.nextStep}\n`);
  }
  return 0;
}

async function commitAuthor(root: string, sha: string): Promise<{ name: string; configured: boolean }> {
  const name = (await git(root, ["log", "-1", "--format=%an <%ae>", sha])).trim();
  const email = (await tryGit(root, ["config", "user.email"])).stdout.trim();
  return { name, configured: email !== "" || Boolean(process.env.GIT_AUTHOR_EMAIL) };
}

/** Runs a precondition; in a dry run, its refusal says that the real run would refuse. */
async function asDryRun<T>(dryRun: boolean, check: () => Promise<T>): Promise<T> {
  try {
    return await check();
  } catch (error) {
    if (dryRun && error instanceof PreconditionError) throw new PreconditionError(`--dry-run: the real run would refuse: ${error.message}`);
    throw error;
  }
}

/**
 * A deploy branch cut from a local default branch that is behind its remote would carry an old
 * tree (a reverted config, an older tag elsewhere) into the pull request's diff, and conflict on
 * merge. Judged against the remote-tracking branch as last fetched: nothing is fetched here.
 */
async function checkBaseUpToDate(root: string): Promise<void> {
  const base = await defaultBranch(root);
  const remote = `refs/remotes/origin/${base}`;
  if (!(await revParse(root, remote))) return;
  const behind = Number((await git(root, ["rev-list", "--count", `refs/heads/${base}..${remote}`])).trim());
  if (behind > 0) {
    throw new PreconditionError(`${base} is ${behind} commit${behind === 1 ? "" : "s"} behind origin/${base}: run \`git pull --ff-only\` first, so that the deploy branch starts from what origin has`);
  }
}

/** Both sides rendered from explicit texts, so the diff is right whenever it is asked for (before or after the commit). */
async function diffOf(root: string, plan: ReleasePlan, envs: string[]) {
  progress(`rendering ${plan.env} before and after the change`);
  // The tag lives in the primary overlay; the other layers do not read that file.
  const layers: Layer[] = [PRIMARY_OVERLAY];
  // "Before" is the tree on disk unless the plan describes a move from another text (a re-run
  // on its deploy branch plans against the default branch): then it too renders from a copy.
  const onDisk = await readFile(join(root, plan.file), "utf8").catch(() => undefined);
  const [before, after] = await Promise.all([
    onDisk === plan.oldText ? renderSnapshot(root, envs, layers) : renderSnapshotWith(root, new Map([[plan.file, plan.oldText]]), envs, layers),
    renderSnapshotWith(root, new Map([[plan.file, plan.newText]]), envs, layers),
  ]);
  const rendered = after.get(plan.env)?.[PRIMARY_OVERLAY];
  const hooks = Array.isArray(rendered) ? preSyncHooks(rendered, `kustomize build ${plan.file.replace(/\/kustomization\.yaml$/, "")}`) : [];
  return { changes: diffSnapshots(before, after, envs), errors: [...snapshotErrors(before), ...snapshotErrors(after)], hooks };
}

function summary(plan: ReleasePlan) {
  return {
    environment: plan.env,
    from: plan.from,
    file: plan.file,
    branch: plan.branch,
    changed: plan.changed,
    images: (plan.changed ? plan.moves : plan.unchanged).map((m) => ({ image: m.image, before: m.before, after: m.after })),
    // Asked for, but already running the value (a promote names only what differs).
    unchanged: plan.changed ? plan.unchanged.map((m) => m.image) : [],
  };
}

function imagesFor(ctx: CommandContext, spec: Spec, problems: Problem[], specFile: string): string[] {
  const wanted = ctx.values.image as unknown as string[] | string | undefined;
  if (wanted === undefined) return spec.images.map((i) => i.name);
  return resolveImages(spec, Array.isArray(wanted) ? wanted : [wanted], problems, specFile);
}

/**
 * New tags land in the first stage and are promoted one stage at a time; `pnpm check` flags a
 * stage that runs ahead of the one before it (rules/consistency.ts, promotion-order). A bump of a
 * later stage is held to the same rule, and to promote's override (--force): it may move to what
 * the previous stage runs or to an older version, not to a tag the previous stage has not run.
 */
async function stageOrderProblems(root: string, spec: Spec, env: string, targets: { image: string; ref: ImageRef }[]): Promise<Problem[]> {
  // The previous group: the stage before, or every cluster of the previous wave (tools/spec/stages.ts).
  const previous = previousGroup(spec, env);
  if (!previous.length) return [];
  const order = stageIds(spec);
  const file = `overlays/${env}/kustomization.yaml`;
  const problems: Problem[] = [];
  for (const prev of previous) {
    const running = await currentRefs(root, spec, prev.id, targets.map((t) => t.image));
    for (const [i, target] of targets.entries()) {
      const theirs = running[i]!.ref;
      if (theirs.newTag === target.ref.newTag && (target.ref.digest === undefined || theirs.digest === target.ref.digest)) continue;
      const order_ = target.ref.newTag && theirs.newTag ? compareSemver(target.ref.newTag, theirs.newTag) : undefined;
      if (order_ !== undefined && order_ < 0) continue;
      const why = order_ !== undefined && order_ > 0 ? "ahead of the previous stage" : "which the previous stage does not run";
      problems.push({
        file,
        path: "images",
        message: `${env} would run ${target.image} ${refText(target.ref)}, ${why}, ${prev.id} (${refText(theirs)}): new tags land in ${order[0]} and are promoted in order (${order.join(" → ")}); bump ${order[0]} and promote, or pass --force`,
      });
    }
  }
  return problems;
}

function envProblem(spec: Spec, env: string, specFile: string, flag: string): Problem | undefined {
  if (findStage(spec, env)) return undefined;
  const ids = stageIds(spec);
  if (Object.hasOwn(spec.environments, env)) {
    const own = stagesOf(spec, env).map((s) => `${s.id} (wave ${s.wave})`);
    return { file: specFile, path: `environments.${env}.clusters`, message: `${env} runs on several clusters (${flag}): name one of its stages: ${own.join(", ")}`, usage: true };
  }
  return { file: specFile, path: "environments", message: `unknown environment ${JSON.stringify(env)} (${flag})${didYouMean(env, ids)}; environments: ${ids.join(", ")}`, usage: true };
}

export const bumpImageCommand: Command = {
  name: "bump-image",
  summary: "Move an environment (default: the first stage) to a new image tag or digest, on a branch, with a pull request when GITHUB_TOKEN is set.",
  usage: "pnpm bump-image <tag>[@sha256:<digest>] [--env <env>] [--image <name>] [--digest sha256:<hex>] [--dry-run] [--json] [--pr] [--allow-downgrade]",
  help:
    "      --env <env>        environment to move (default: the first in promotion order)\n      --image <name>     image to move, by name or short name (required when the spec has several)\n      --digest <digest>  pin a digest (sha256:<64 hex>), with or without a tag\n" +
    "      --force            allow a later stage to run a tag the stage before it does not run (as promote --force)\n" +
    COMMON_HELP,
  options: { ...COMMON_OPTIONS, env: { type: "string" }, digest: { type: "string" }, force: { type: "boolean" } },
  async run(ctx) {
    const paths = repoPaths(ctx.root);
    const spec = await loadSpec(paths.spec, ctx.root);
    const specFile = "overlays/environments.yaml";
    if (ctx.positionals.length > 1) throw new UsageError(`expected one tag, got ${ctx.positionals.length} arguments`);
    if (ctx.positionals.length === 0 && ctx.values.digest === undefined) throw new UsageError("expected a tag, e.g. `pnpm bump-image v1.0.1` (or --digest sha256:<hex>)");
    const env = typeof ctx.values.env === "string" ? ctx.values.env : stageIds(spec)[0]!;
    const target = parseTarget(ctx.positionals[0], typeof ctx.values.digest === "string" ? ctx.values.digest : undefined);
    const problems: Problem[] = target.problems.map((message) => ({ file: "<arguments>", path: "tag", message }));
    const envIssue = envProblem(spec, env, specFile, "--env");
    if (envIssue) problems.push(envIssue);
    // Each image has a life of its own: with several, a bump names the one it moves.
    if (ctx.values.image === undefined && spec.images.length > 1) {
      throw new UsageError(`the spec has ${spec.images.length} images: say which one to move with --image <name>: ${imageList(spec)}`);
    }
    const images = imagesFor(ctx, spec, problems, specFile);
    // A digest-only bump keeps no tag: the tag would no longer describe what runs.
    const ref = target.ref.newTag === undefined ? { digest: target.ref.digest } : target.ref;
    if (problems.length) throw new ValidationError(await locatedSpecProblems(ctx.root, problems));
    const targets = images.map((image) => ({ image, ref }));
    if (!ctx.values.force) problems.push(...(await stageOrderProblems(ctx.root, spec, env, targets)));
    if (problems.length) throw new ValidationError(problems);
    return execute(ctx, spec, { kind: "bump", env, targets, allowDowngrade: Boolean(ctx.values["allow-downgrade"]) });
  },
};

export const promoteCommand: Command = {
  name: "promote",
  summary: "Carry the tag (or digest) an environment runs to the next stage, on a branch, with a pull request when GITHUB_TOKEN is set.",
  usage: "pnpm promote [<from>] <to> | --from <env>  [--image <name>]... [--force] [--dry-run] [--json] [--pr] [--allow-downgrade]",
  help:
    "      --from <env>       promote <env> to the stage that follows it (nothing to do after the last)\n" +
    "      --image <name>     image to promote, by name or short name; repeatable (default: every image whose tag differs)\n      --force            allow skipping a stage (e.g. dev → prod)\n" +
    COMMON_HELP,
  options: { ...COMMON_OPTIONS, image: { type: "string", multiple: true }, force: { type: "boolean" }, from: { type: "string" } },
  async run(ctx) {
    const spec = await loadSpec(repoPaths(ctx.root).spec, ctx.root);
    const specFile = "overlays/environments.yaml";
    const all = stages(spec);
    const order = all.map((s) => s.id);
    const fromFlag = ctx.values.from as string | undefined;
    if (fromFlag !== undefined) {
      // --from <stage>: promote to whatever stage follows it (used by automation after a merge).
      // An environment on several clusters names all its stages: the first whose next wave (or
      // next environment) does not run its tags yet is carried on.
      if (ctx.positionals.length) throw new UsageError("give either --from <env> or positional environments, not both");
      const one = findStage(spec, fromFlag);
      const candidates = one ? [one] : Object.hasOwn(spec.environments, fromFlag) ? stagesOf(spec, fromFlag) : [];
      if (!candidates.length) throw new ValidationError(await locatedSpecProblems(ctx.root, [envProblem(spec, fromFlag, specFile, "--from")!]));
      const images = typeof ctx.values.image === "string" ? [ctx.values.image] : spec.images.map((i) => i.name);
      let pair: [Stage, Stage] | undefined;
      for (const candidate of candidates) {
        const next = nextGroup(spec, candidate.id);
        const ours = await currentRefs(ctx.root, spec, candidate.id, images).catch(() => undefined);
        for (const stage of next) {
          const theirs = ours && (await currentRefs(ctx.root, spec, stage.id, images).catch(() => undefined));
          if (!ours || !theirs || theirs.some((t, i) => refText(t.ref) !== refText(ours[i]!.ref))) {
            pair = [candidate, stage];
            break;
          }
        }
        if (pair) break;
      }
      if (!pair) {
        const last = candidates[candidates.length - 1]!;
        const next = nextGroup(spec, last.id)[0];
        if (next) pair = [last, next];
      }
      if (!pair) {
        if (ctx.values.json) ctx.stdout(`${JSON.stringify({ dryRun: Boolean(ctx.values["dry-run"]), from: fromFlag, environment: null, changed: false, reason: "last stage" }, null, 2)}\n`);
        else ctx.stdout(`${fromFlag} is the last stage: nothing to promote to.\n`);
        return 0;
      }
      ctx.positionals.push(pair[0].id, pair[1].id);
    }
    if (ctx.positionals.length === 0 || ctx.positionals.length > 2) throw new UsageError("expected `promote <to>`, `promote <from> <to>` or `promote --from <env>`");
    const to = ctx.positionals[ctx.positionals.length - 1]!;
    const problems: Problem[] = [];
    const toIssue = envProblem(spec, to, specFile, "<to>");
    if (toIssue) problems.push(toIssue);
    const toStage = findStage(spec, to);
    let fromStage: Stage | undefined;
    let from = "";
    if (ctx.positionals.length === 2) {
      from = ctx.positionals[0]!;
      // An environment on several clusters as <from>: its stage in the wave just before <to>, else its last.
      fromStage = findStage(spec, from);
      if (!fromStage && toStage && Object.hasOwn(spec.environments, from)) {
        const own = stagesOf(spec, from);
        fromStage = own.find((s) => s.group === toStage.group - 1) ?? own.filter((s) => s.group < toStage.group).pop() ?? own[own.length - 1];
      }
      if (fromStage) from = fromStage.id;
      else problems.push(envProblem(spec, from, specFile, "<from>")!);
    } else if (toStage) {
      fromStage = previousGroup(spec, to)[0];
      if (fromStage) from = fromStage.id;
      else problems.push({ file: specFile, path: "environments", message: `${to} is the first stage: there is nothing to promote from` });
    }
    const images = imagesFor(ctx, spec, problems, specFile);
    if (fromStage && toStage) {
      const groupOf = (g: number) => all.filter((s) => s.group === g).map((s) => s.id).join(", ");
      if (fromStage.id === toStage.id) problems.push({ file: specFile, path: "environments", message: `cannot promote ${from} to itself` });
      else if (fromStage.group === toStage.group) problems.push({ file: specFile, path: `environments.${toStage.env}.clusters`, message: `${from} and ${to} are in the same wave (${toStage.wave}): a tag reaches both from the wave before (${groupOf(toStage.group - 1) || "none"})` });
      else if (fromStage.group > toStage.group) problems.push({ file: specFile, path: "environments", message: `${from} comes after ${to} in the promotion order (${order.join(" → ")}): promotion goes forward` });
      else if (fromStage.group !== toStage.group - 1 && !ctx.values.force) {
        const skipped = all.filter((s) => s.group > fromStage!.group && s.group < toStage.group).map((s) => s.id);
        problems.push({ file: specFile, path: "environments", message: `${from} → ${to} skips ${skipped.join(", ")}; promote one stage at a time or pass --force` });
      } else if (!ctx.values.force && problems.length === 0) {
        // Per wave: a tag leaves a wave only once every cluster of it runs the tag.
        const ours = await currentRefs(ctx.root, spec, from, images);
        for (const peer of all.filter((s) => s.group === fromStage!.group && s.id !== fromStage!.id)) {
          const theirs = await currentRefs(ctx.root, spec, peer.id, images);
          for (const [i, t] of theirs.entries()) {
            if (refText(t.ref) === refText(ours[i]!.ref)) continue;
            problems.push({
              file: `overlays/${peer.id}/kustomization.yaml`,
              path: "images",
              message: `${peer.id} runs ${t.image} ${refText(t.ref)}, not ${refText(ours[i]!.ref)} like ${from}: a tag leaves wave ${fromStage.wave} of ${fromStage.env} only once every cluster of it runs it; promote ${peer.id} first, or pass --force`,
            });
          }
        }
      }
    }
    if (problems.length) throw new ValidationError(await locatedSpecProblems(ctx.root, problems));
    const targets = await currentRefs(ctx.root, spec, from, images);
    return execute(ctx, spec, { kind: "promote", env: to, from, targets, allowDowngrade: Boolean(ctx.values["allow-downgrade"]) });
  },
};
