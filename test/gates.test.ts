// Promotion gates, rollback and holds end to end: the CLI against a temp repository with a bare
// origin and the fake GitHub (requests checked against GitHub's OpenAPI description). Time is
// controlled on both sides: the commits that land tags on main get explicit committer dates
// (GIT_COMMITTER_DATE), and the tools read "now" from GITOPS_NOW (tests only).
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { afterEach, describe, expect, it, vi } from "vitest";
import { startFakeGitHub, type FakeGitHub } from "./support/fake-github.ts";
import { cleanEnv, createTestRepo, type TestRepo } from "./support/repo.ts";

const exec = promisify(execFile);
// Each test runs the CLI several times on a shared two-core machine.
vi.setConfig({ testTimeout: 300_000 });
const TOKEN = "ghs_GATESTOKEN0123456789";
const STAGING = "overlays/staging/kustomization.yaml";
const PROD = "overlays/prod/kustomization.yaml";
const HOUR = 3_600_000;
// A Wednesday: outside Ringlet's weekend freeze (Friday 15:00 UTC to Monday 08:00 UTC).
const T0 = new Date("2031-06-04T10:00:00Z");
const at = (ms: number) => new Date(T0.getTime() + ms).toISOString();

let repo: TestRepo | undefined;
let gh: FakeGitHub | undefined;
afterEach(async () => {
  await gh?.close();
  await repo?.cleanup();
  repo = undefined;
  gh = undefined;
});

async function setup(): Promise<{ repo: TestRepo; gh: FakeGitHub; env: (now: string, extra?: NodeJS.ProcessEnv) => NodeJS.ProcessEnv }> {
  repo = await createTestRepo();
  gh = await startFakeGitHub({ owner: "ringlet", repo: "ringlet-gitops", token: TOKEN });
  const url = gh.url;
  const env = (now: string, extra: NodeJS.ProcessEnv = {}) => ({
    GITHUB_TOKEN: TOKEN,
    GITHUB_API_URL: url,
    GITHUB_REPOSITORY: "ringlet/ringlet-gitops",
    GITOPS_GITHUB_RETRY_UNIT_MS: "1",
    GITOPS_NOW: now,
    ...extra,
  });
  return { repo, gh, env };
}

/** git in the test repository with extra environment (dates). */
async function gitWith(r: TestRepo, env: NodeJS.ProcessEnv, ...args: string[]): Promise<string> {
  return (await exec("git", args, { cwd: r.root, env: cleanEnv(env) })).stdout;
}

/**
 * A deploy pull request of `file` to `tag`, merged on main the way GitHub merges: a branch commit
 * written at `authored`, then a merge commit made at `merged`. Returns the merge commit.
 */
async function landTag(r: TestRepo, file: string, tag: string, opts: { authored: string; merged: string; mergeOnly?: boolean }): Promise<string> {
  const env = file.split("/")[1]!;
  const branch = `deploy/${env}/ringlet/${tag}`;
  await r.git("checkout", "-q", "-b", branch, "main");
  const text = await r.read(file);
  await r.write(file, text.replace(/newTag: \S+/, `newTag: ${tag}`));
  await gitWith(r, { GIT_AUTHOR_DATE: opts.authored, GIT_COMMITTER_DATE: opts.authored }, "commit", "-qam", `deploy(${env}): ${tag}`);
  await r.git("checkout", "-q", "main");
  await gitWith(r, { GIT_AUTHOR_DATE: opts.authored, GIT_COMMITTER_DATE: opts.merged }, "merge", "-q", "--no-ff", "-m", `Merge pull request #1 from ringlet/${branch}`, branch);
  await r.git("branch", "-q", "-D", branch);
  await r.git("push", "-q", "origin", "main");
  return (await r.git("rev-parse", "HEAD")).trim();
}

describe("soak", () => {
  it("refuses a tag promoted too early with the remaining soak time, and passes once it has soaked", async () => {
    const { repo, gh, env } = await setup();
    const merge = await landTag(repo, STAGING, "v2.0.0", { authored: at(-2 * HOUR), merged: at(0) });
    gh.addCheckRun({ sha: merge, name: "test", conclusion: "success" });
    const before = await repo.state();

    const early = await repo.cli(["promote", "prod"], env(at(10 * HOUR)));
    expect(early.code, early.stderr).toBe(1);
    expect(early.stderr).toContain("soak: failed");
    expect(early.stderr).toContain("has run in staging for 10h");
    expect(early.stderr).toContain("24h required: 14h remaining");
    expect(early.stderr).toContain(`commit ${merge.slice(0, 12)}`);
    expect(await repo.state()).toEqual(before);
    expect(gh.pulls).toEqual([]);

    const late = await repo.cli(["promote", "prod"], env(at(25 * HOUR)));
    expect(late.code, late.stderr).toBe(0);
    expect(gh.violations).toEqual([]);
    expect(gh.pulls.map((p) => p.head)).toEqual(["deploy/prod/ringlet/v2.0.0"]);
    const body = gh.pulls[0]!.body ?? "";
    expect(body).toContain("### Gates into prod");
    expect(body).toMatch(/\| soak \| ✓ passed \| v2\.0\.0 ran in staging for 1d 1h so far/);
    expect(body).toMatch(/\| checks \| ✓ passed \| [0-9a-f]{12}: test: green \(check run success\)/);
    expect(body).toMatch(/\| window \| ✓ passed \|/);
    expect(body).toContain(`GITOPS_NOW=${at(25 * HOUR)}`);
    // The tool's own commit status on the pushed deploy commit, for branch protection.
    const pushed = (await exec("git", ["ls-remote", repo.origin, "refs/heads/deploy/prod/ringlet/v2.0.0"])).stdout.split("\t")[0];
    expect(gh.statuses.map((s) => [s.sha, s.context, s.state])).toEqual([[pushed, "gates", "success"]]);
    expect(gh.statuses[0]!.description).toBe("promote into prod: soak passed, checks passed, window passed");
    const message = await repo.git("log", "-1", "--format=%B", "deploy/prod/ringlet/v2.0.0");
    expect(message).toContain("Gate soak: passed\nGate checks: passed\nGate window: passed");
  });

  it("times the soak by the merge on the default branch: a backdated author date or a skewed committer date does not shorten it", async () => {
    const { repo, gh, env } = await setup();
    // Written (and rebased, keeping its author date) ten days ago, merged at T0.
    const merge = await landTag(repo, STAGING, "v2.1.0", { authored: at(-240 * HOUR), merged: at(0) });
    gh.addCheckRun({ sha: merge, name: "test", conclusion: "success" });
    const r = await repo.cli(["promote", "prod", "--dry-run"], env(at(3 * HOUR)));
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toContain("21h remaining");

    // A commit straight on main whose committer clock was ten days behind: it cannot have been
    // made before its parent (the merge at T0), so the soak still starts at T0.
    await repo.write(STAGING, (await repo.read(STAGING)).replace("newTag: v2.1.0", "newTag: v2.2.0"));
    await gitWith(repo, { GIT_AUTHOR_DATE: at(-240 * HOUR), GIT_COMMITTER_DATE: at(-240 * HOUR) }, "commit", "-qam", "staging v2.2.0, skewed clock");
    const skewed = await repo.cli(["promote", "prod", "--dry-run", "--override", "checks=no checks on a direct commit in this test"], env(at(3 * HOUR)));
    expect(skewed.code, skewed.stderr).toBe(1);
    expect(skewed.stderr).toContain("v2.2.0 has run in staging for 3h so far (since 2031-06-04T10:00:00.000Z");
    expect(skewed.stderr).toContain("21h remaining");
  });

  it("refuses a tag the previous stage never ran", async () => {
    const { repo, env } = await setup();
    const r = await repo.cli(["bump-image", "v7.0.0", "--env", "prod", "--dry-run", "--force"], env(at(0)));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("ghcr.io/ringlet/ringlet v7.0.0 never ran in staging");
    expect(r.stderr).toContain("checks: failed");
  });
});

describe("checks", () => {
  it("refuses a red or missing required check, and says so without a token", async () => {
    const { repo, gh, env } = await setup();
    const merge = await landTag(repo, STAGING, "v2.0.0", { authored: at(0), merged: at(0) });
    const before = await repo.state();
    const now = at(30 * HOUR);

    const missing = await repo.cli(["promote", "prod"], env(now));
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain(`checks: failed: ${merge.slice(0, 12)}: test: missing (not reported)`);

    // A red check run; a green commit status of the same name does not make it green.
    gh.addCheckRun({ sha: merge, name: "test", conclusion: "failure" });
    gh.addStatus({ sha: merge, context: "test", state: "success" });
    const red = await repo.cli(["promote", "prod"], env(now));
    expect(red.code).toBe(1);
    expect(red.stderr).toContain("test: failure (check run failure)");

    // A re-run that went green: the newest run counts. A pending commit status still refuses.
    gh.addCheckRun({ sha: merge, name: "test", conclusion: "success" });
    gh.addStatus({ sha: merge, context: "test", state: "pending" });
    const pending = await repo.cli(["promote", "prod"], env(now));
    expect(pending.code).toBe(1);
    expect(pending.stderr).toContain("test: pending (status pending)");

    const noToken = await repo.cli(["promote", "prod"], { GITOPS_NOW: now });
    expect(noToken.code).toBe(1);
    expect(noToken.stderr).toContain("checks: unverified");
    expect(noToken.stderr).toContain("could not be verified: no GitHub token is set");
    expect(await repo.state()).toEqual(before);
    expect(gh.pulls).toEqual([]);
    expect(gh.violations).toEqual([]);
    // Both of GitHub's systems were asked.
    expect(gh.requests.filter((q) => q.operationId === "repos/get-combined-status-for-ref").length).toBe(3);
    expect(gh.requests.filter((q) => q.operationId === "checks/list-for-ref").length).toBe(3);
  });

  it("an override records its reason in the commit message and the pull-request body", async () => {
    const { repo, gh, env } = await setup();
    await landTag(repo, STAGING, "v2.0.0", { authored: at(0), merged: at(0) });
    const reason = "CI outage (INC-7); staging verified by hand";
    const r = await repo.cli(["promote", "prod", "--override", `checks=${reason}`], env(at(30 * HOUR)));
    expect(r.code, r.stderr).toBe(0);
    const message = await repo.git("log", "-1", "--format=%B", "deploy/prod/ringlet/v2.0.0");
    expect(message).toContain(`Gate checks: overridden (override: ${reason})`);
    const body = gh.pulls[0]!.body ?? "";
    expect(body).toMatch(/\| checks \| ! overridden \| .*test: missing \(not reported\) \| CI outage \(INC-7\); staging verified by hand \|/);
    expect(gh.statuses[0]!.description).toBe("promote into prod: soak passed, checks overridden, window passed");
    expect(gh.violations).toEqual([]);
  });

  it("an override needs a reason and a gate the environment declares", async () => {
    const { repo, env } = await setup();
    await landTag(repo, STAGING, "v2.0.0", { authored: at(0), merged: at(0) });
    const before = await repo.state();
    const bare = await repo.cli(["promote", "prod", "--override", "checks"], env(at(30 * HOUR)));
    expect(bare.code).toBe(2);
    expect(bare.stderr).toContain("--override checks needs a reason");
    const unknown = await repo.cli(["promote", "prod", "--override", "luck=feeling lucky"], env(at(30 * HOUR)));
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown gate "luck"; gates: soak, checks, window');
    const staging = await repo.cli(["bump-image", "v3.0.0", "--env", "staging", "--force", "--override", "soak=why not"], env(at(30 * HOUR)));
    expect(staging.code).toBe(1);
    expect(staging.stderr).toContain("staging declares no soak gate to override; its gates: none");
    expect(await repo.state()).toEqual(before);
  });
});

describe("freeze windows", () => {
  it("refuses a promotion inside a freeze window, with when it closes; an override passes it", async () => {
    const { repo, gh, env } = await setup();
    const merge = await landTag(repo, STAGING, "v2.0.0", { authored: at(0), merged: at(0) });
    gh.addCheckRun({ sha: merge, name: "test", conclusion: "success" });
    const saturday = "2031-06-07T12:00:00Z";
    const before = await repo.state();
    const r = await repo.cli(["promote", "prod"], env(saturday));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('window: failed: freeze window "weekend" ("0 15 * * 5" UTC, 65h) is open since 2031-06-06T15:00:00.000Z until 2031-06-09T08:00:00.000Z (1d 20h remaining)');
    expect(await repo.state()).toEqual(before);
    // Monday 08:00 it is over.
    const monday = await repo.cli(["promote", "prod", "--dry-run"], env("2031-06-09T08:00:00Z"));
    expect(monday.code, monday.stderr).toBe(0);
    const overridden = await repo.cli(["promote", "prod", "--override", "window=hotfix for INC-9"], env(saturday));
    expect(overridden.code, overridden.stderr).toBe(0);
    expect(await repo.git("log", "-1", "--format=%B", "deploy/prod/ringlet/v2.0.0")).toContain("Gate window: overridden (override: hotfix for INC-9)");
  });

  it("follows the window's time zone across daylight saving", async () => {
    const { repo, gh, env } = await setup();
    const spec = await repo.read("overlays/environments.yaml");
    await repo.write("overlays/environments.yaml", spec.replace('schedule: "0 15 * * 5"\n          duration: 65h\n          timeZone: UTC', 'schedule: "0 9 * * *"\n          duration: 1h\n          timeZone: Europe/Berlin'));
    await repo.git("commit", "-qam", "a daily freeze at 09:00 Berlin time");
    const merge = await landTag(repo, STAGING, "v2.0.0", { authored: at(0), merged: at(0) });
    gh.addCheckRun({ sha: merge, name: "test", conclusion: "success" });
    // 09:30 in Berlin is 07:30 UTC in summer (CEST) and 08:30 UTC in winter (CET).
    expect((await repo.cli(["promote", "prod", "--dry-run"], env("2031-06-11T07:30:00Z"))).code).toBe(1);
    expect((await repo.cli(["promote", "prod", "--dry-run"], env("2031-06-11T08:30:00Z"))).code).toBe(0);
    expect((await repo.cli(["promote", "prod", "--dry-run"], env("2031-12-10T08:30:00Z"))).code).toBe(1);
    expect((await repo.cli(["promote", "prod", "--dry-run"], env("2031-12-10T07:30:00Z"))).code).toBe(0);
  });
});

describe("rollback", () => {
  it("rollback prod opens a pull request that restores the previous tag in one line, and says the hook runs", async () => {
    const { repo, gh, env } = await setup();
    await landTag(repo, PROD, "v1.1.0", { authored: at(0), merged: at(0) });
    const r = await repo.cli(["rollback", "prod"], env(at(HOUR)));
    expect(r.code, r.stderr).toBe(0);
    expect(gh.violations).toEqual([]);
    expect(gh.pulls.map((p) => [p.head, p.title])).toEqual([["deploy/prod/ringlet/rollback-v1.0.0", "rollback(prod): ringlet v1.1.0 → v1.0.0"]]);
    const diff = await repo.git("diff", "--unified=0", "main", "deploy/prod/ringlet/rollback-v1.0.0");
    const changed = diff.split("\n").filter((l) => /^[-+](?![-+])/.test(l));
    expect(changed).toEqual(["-    newTag: v1.1.0", "+    newTag: v1.0.0"]);
    const body = gh.pulls[0]!.body ?? "";
    expect(body).toContain("## Roll back prod");
    expect(body).toContain("What goes back: `ghcr.io/ringlet/ringlet` from `v1.1.0` to `v1.0.0`");
    expect(body).toContain("Argo CD runs the PreSync hook `Job/ringlet-migrate` with the older release's code");
    expect(body).toContain("a rollback from the Argo CD UI runs no hooks");
    expect(body).not.toContain("### Gates");
    // Gates do not stop a rollback (it is in a freeze window here), but its status is set.
    expect(gh.statuses.map((s) => [s.context, s.state, s.description])).toEqual([["gates", "success", "rollback, gates do not apply"]]);
  });

  it("--to a tag the environment ran, refused for one it never ran unless --force; --steps beyond the history", async () => {
    const { repo, env } = await setup();
    await landTag(repo, PROD, "v1.1.0", { authored: at(0), merged: at(0) });
    await landTag(repo, PROD, "v1.2.0", { authored: at(HOUR), merged: at(HOUR) });
    const before = await repo.state();
    const never = await repo.cli(["rollback", "prod", "--to", "v0.9.0"], { GITOPS_NOW: at(2 * HOUR) });
    expect(never.code).toBe(1);
    expect(never.stderr).toContain('prod never ran ghcr.io/ringlet/ringlet "v0.9.0" (history of overlays/prod/kustomization.yaml on main: v1.2.0, v1.1.0, v1.0.0); pass --force');
    const far = await repo.cli(["rollback", "prod", "--steps", "3"]);
    expect(far.code).toBe(1);
    expect(far.stderr).toContain("prod has no entry 3 steps back");
    expect(await repo.state()).toEqual(before);

    const two = await repo.cli(["rollback", "prod", "--steps", "2", "--dry-run"]);
    expect(two.code, two.stderr).toBe(0);
    expect(two.stdout).toContain("rollback(prod): ringlet v1.2.0 → v1.0.0");
    const to = await repo.cli(["rollback", "prod", "--to", "v1.1.0"]);
    expect(to.code, to.stderr).toBe(0);
    expect(await repo.read(PROD)).toContain("newTag: v1.1.0");
    await repo.git("checkout", "-q", "main");
    const forced = await repo.cli(["rollback", "prod", "--to", "v0.9.0", "--force", "--dry-run"]);
    expect(forced.code, forced.stderr).toBe(0);
    expect(forced.stdout).toContain("v1.2.0 → v0.9.0");
    void env;
  });
});

describe("holds", () => {
  const HOLD = "# Held during INC-12.\nholds:\n  - environment: prod\n    reason: INC-12 memory leak under investigation # ask @oncall\n";

  it("a held environment is never moved by bump-image, promote or rollback; status shows the hold", async () => {
    const { repo, gh, env } = await setup();
    const merge = await landTag(repo, STAGING, "v2.0.0", { authored: at(0), merged: at(0) });
    gh.addCheckRun({ sha: merge, name: "test", conclusion: "success" });
    await landTag(repo, PROD, "v1.1.0", { authored: at(0), merged: at(0) });
    await repo.write("overlays/holds.yaml", HOLD);
    await repo.git("add", "overlays/holds.yaml");
    await repo.git("commit", "-qm", "hold prod");
    const before = await repo.state();
    const now = at(30 * HOUR);
    for (const args of [["promote", "prod"], ["bump-image", "v2.0.0", "--env", "prod"], ["rollback", "prod"], ["promote", "prod", "--override", "soak=x", "--override", "checks=y", "--override", "window=z"]]) {
      const r = await repo.cli(args, env(now));
      expect(r.code, args.join(" ")).toBe(1);
      expect(r.stderr).toContain("overlays/holds.yaml:3: holds[0]: prod is held: INC-12 memory leak under investigation. Release the hold");
    }
    // --if-gates-pass (the workflows): reported, exit 0, nothing moves.
    const quiet = await repo.cli(["promote", "--from", "staging", "--if-gates-pass"], env(now));
    expect(quiet.code, quiet.stderr).toBe(0);
    expect(quiet.stdout).toContain("Not moving prod: it is held (nothing written).");
    expect(await repo.state()).toEqual(before);
    expect(gh.pulls).toEqual([]);
    // Another environment moves as usual.
    expect((await repo.cli(["bump-image", "v2.1.0", "--env", "dev"], env(now))).code).toBe(0);
    await repo.git("checkout", "-q", "main");

    const status = await repo.cli(["status"], env(now));
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toContain("held: prod (every image): INC-12 memory leak under investigation");
    const json = JSON.parse((await repo.cli(["status", "--json"])).stdout);
    expect(json.holds).toEqual([{ environment: "prod", image: null, reason: "INC-12 memory leak under investigation", line: 3 }]);

    // One image only: the hold names it.
    await repo.write("overlays/holds.yaml", "holds:\n  - environment: prod\n    image: ghcr.io/ringlet/ringlet\n    reason: pinned\n");
    await repo.git("commit", "-qam", "hold only the image");
    const image = await repo.cli(["promote", "prod"], env(now));
    expect(image.stderr).toContain("ghcr.io/ringlet/ringlet in prod is held: pinned");
  });
});
