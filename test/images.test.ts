// Several images, each with its own life (issue 10, item 5), on a two-image fixture of its own
// (test/fixtures/two-images: images registry.example.com/shop/api and …/worker, environments dev
// and staging, a PreSync Job shop-db-setup). The CLI runs as a subprocess against a temp
// repository (real git, a bare origin), renders with the real kustomize and talks to the fake
// GitHub that checks every request against GitHub's OpenAPI description.
//
// Expected branch names, titles and values are written out here from the contract (DESIGN.md:
// deploy/<env>/<image-short>/<tag>), never copied from the tools' output. On the old state (one
// branch deploy/<env>/<tag> per environment, superseding every open pull request of it) the
// first test fails: the second image's bump resets the first one's branch and closes its PR.
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { deployBranch, imageShortNames, parseDeployBranch } from "../tools/release/plan.ts";
import { startFakeGitHub, type FakeGitHub } from "./support/fake-github.ts";
import { FIXTURES, remoteBranches, testRepos, type TestRepo } from "./support/repo.ts";


const API = "registry.example.com/shop/api";
const WORKER = "registry.example.com/shop/worker";
const DEV = "overlays/dev/kustomization.yaml";
const OWNER = "acme";
const REPO = "shop-gitops";
const TOKEN = "ghs_IMAGESTOKEN456";
const SLOW = 240_000;

type Result = { code: number; stdout: string; stderr: string };

const newRepo = testRepos({ fixture: join(FIXTURES, "two-images") });
const fakes: FakeGitHub[] = [];
afterAll(async () => {
  await Promise.all(fakes.splice(0).map((gh) => gh.close()));
});
async function newFake(): Promise<FakeGitHub> {
  const gh = await startFakeGitHub({ owner: OWNER, repo: REPO, token: TOKEN });
  fakes.push(gh);
  return gh;
}

async function withToken(repo: TestRepo, gh: FakeGitHub, args: string[]): Promise<Result> {
  const result = await repo.cli(args, { GITHUB_TOKEN: TOKEN, GITHUB_API_URL: gh.url, GITHUB_REPOSITORY: `${OWNER}/${REPO}`, GITOPS_GITHUB_RETRY_UNIT_MS: "1" });
  expect(result.stdout + result.stderr).not.toContain(TOKEN);
  return result;
}


const ops = (gh: FakeGitHub) => gh.requests.map((r) => r.operationId ?? `${r.method} ${r.path}`);

/** Merges a deploy branch into main as a pull request's merge commit would, and pushes main. */
async function mergeIntoMain(repo: TestRepo, branch: string, number: number): Promise<void> {
  await repo.git("checkout", "--quiet", "main");
  await repo.git("merge", "--quiet", "--no-ff", "-m", `Merge pull request #${number} from ${OWNER}/${branch}`, branch);
  await repo.git("push", "--quiet", "origin", "main");
}

describe("short image names and deploy branch names", () => {
  it("uses the last path segment, and more of the path only where two images share it", () => {
    const names = imageShortNames(["ghcr.io/acme/api", "docker.io/other/api", "ghcr.io/acme/worker", "localhost:5000/web"]);
    expect([...names.values()]).toEqual(["acme-api", "other-api", "worker", "web"]);
    // A registry port never reaches a ref (git refuses ":").
    expect([...imageShortNames(["localhost:5000/app", "localhost:6000/app"]).values()]).toEqual(["localhost-5000-app", "localhost-6000-app"]);
  });

  it("reads back what it writes, for one image, several at one tag, several at different tags, and rollbacks", () => {
    const one = deployBranch("dev", "bump", [{ short: "api", after: { newTag: "v2.0.0" } }]);
    expect(one).toBe("deploy/dev/api/v2.0.0");
    expect(parseDeployBranch(one, "dev")).toEqual({ env: "dev", images: ["api"], refs: new Map([["api", "v2.0.0"]]) });
    const same = deployBranch("staging", "promote", [{ short: "api", after: { newTag: "v2.0.0" } }, { short: "worker", after: { newTag: "v2.0.0" } }]);
    expect(same).toBe("deploy/staging/api+worker/v2.0.0");
    expect(parseDeployBranch(same, "staging")?.refs).toEqual(new Map([["api", "v2.0.0"], ["worker", "v2.0.0"]]));
    const mixed = deployBranch("staging", "promote", [{ short: "api", after: { newTag: "v2.1.0" } }, { short: "worker", after: { newTag: "v2.0.0" } }]);
    expect(mixed).toBe("deploy/staging/api+worker/v2.1.0+v2.0.0");
    expect(parseDeployBranch(mixed, "staging")?.refs).toEqual(new Map([["api", "v2.1.0"], ["worker", "v2.0.0"]]));
    expect(deployBranch("prod", "rollback", [{ short: "api", after: { newTag: "v1.0.0" } }])).toBe("deploy/prod/api/rollback-v1.0.0");
    // The old naming and other environments' branches are not moves of this environment's images.
    expect(parseDeployBranch("deploy/dev/v2.0.0", "dev")).toBeUndefined();
    expect(parseDeployBranch("deploy/dev-eu/api/v2.0.0", "dev")).toBeUndefined();
  });
});

describe("two images bumped to the same tag in one environment", () => {
  it(
    "both reach a pull request and neither closes the other; the same bump again is a no-op; a newer bump of one closes only its own older one",
    { timeout: SLOW },
    async () => {
      const repo = await newRepo();
      const gh = await newFake();

      const api = await withToken(repo, gh, ["bump-image", "v2.0.0", "--image", "api"]);
      expect(api.code, api.stderr).toBe(0);
      const apiCommit = (await repo.git("rev-parse", "HEAD")).trim();
      // As CI does: the next run starts from a fresh main.
      await repo.git("checkout", "--quiet", "main");
      const worker = await withToken(repo, gh, ["bump-image", "v2.0.0", "--image", WORKER]);
      expect(worker.code, worker.stderr).toBe(0);
      const workerCommit = (await repo.git("rev-parse", "HEAD")).trim();

      expect(gh.pulls.map((p) => [p.number, p.head, p.state])).toEqual([
        [1, "deploy/dev/api/v2.0.0", "open"],
        [2, "deploy/dev/worker/v2.0.0", "open"],
      ]);
      expect(gh.pulls[0]!.title).toBe("deploy(dev): api v1.0.0 → v2.0.0");
      expect(gh.pulls[1]!.title).toBe("deploy(dev): worker v1.0.0 → v2.0.0");
      expect(gh.pulls[1]!.labels.sort()).toEqual(["deploy", "env:dev", "image:worker"]);
      expect(gh.comments).toEqual([]);
      // Each branch holds its own commit, on origin too: nothing was reset.
      const remote = await remoteBranches(repo);
      expect(remote["deploy/dev/api/v2.0.0"]).toBe(apiCommit);
      expect(remote["deploy/dev/worker/v2.0.0"]).toBe(workerCommit);
      expect((await repo.git("show", `${apiCommit}:${DEV}`)).match(/newTag: \S+/g)).toEqual(["newTag: v2.0.0", "newTag: v1.0.0"]);
      expect((await repo.git("show", `${workerCommit}:${DEV}`)).match(/newTag: \S+/g)).toEqual(["newTag: v1.0.0", "newTag: v2.0.0"]);
      // The body: the image that moves, the hook the render has (not a fixed name), the neutral marker.
      const body = gh.pulls[1]!.body ?? "";
      expect(body).toContain(`| \`${WORKER}\` | \`v1.0.0\` | \`v2.0.0\` |`);
      expect(body).not.toContain(`| \`${API}\``);
      expect(body).toContain("The PreSync hook `Job/shop-db-setup` runs first");
      expect(body).not.toMatch(/migrat/i);
      expect(body).toContain(`<!-- gitops:bump env=dev images=${WORKER} -->`);

      // The same bump again, from main, the local branch gone as in a fresh clone: a no-op that says so.
      await repo.git("checkout", "--quiet", "main");
      await repo.git("branch", "--quiet", "-D", "deploy/dev/api/v2.0.0");
      const before = await remoteBranches(repo);
      gh.requests.length = 0;
      const again = await withToken(repo, gh, ["bump-image", "v2.0.0", "--image", "api"]);
      expect(again.code, again.stderr).toBe(0);
      expect(again.stdout).toContain("branch deploy/dev/api/v2.0.0 already holds this move");
      expect(again.stdout).toContain("nothing to do");
      expect(again.stdout).toContain("pull request #1 is open");
      expect(await remoteBranches(repo)).toEqual(before);
      expect(ops(gh).filter((o) => o !== "repos/get" && o !== "pulls/list")).toEqual([]);
      expect(gh.pulls.map((p) => p.state)).toEqual(["open", "open"]);

      // A newer api bump closes the older api pull request, and only that one.
      await repo.git("checkout", "--quiet", "main");
      const newer = await withToken(repo, gh, ["bump-image", "v2.1.0", "--image", "api"]);
      expect(newer.code, newer.stderr).toBe(0);
      expect(gh.pulls.map((p) => [p.head, p.state])).toEqual([
        ["deploy/dev/api/v2.0.0", "closed"],
        ["deploy/dev/worker/v2.0.0", "open"],
        ["deploy/dev/api/v2.1.0", "open"],
      ]);
      expect(gh.comments.map((c) => c.issueNumber)).toEqual([1]);
      expect(gh.comments[0]!.body).toContain("a newer move of api in dev");
      expect((await remoteBranches(repo))["deploy/dev/worker/v2.0.0"]).toBe(workerCommit);
      expect(gh.violations).toEqual([]);
    },
  );

  it("a bump never resets a branch that holds a commit other than this move", { timeout: SLOW }, async () => {
    const repo = await newRepo();
    // Someone's commit on the branch this move would use, setting worker (another image) too.
    await repo.git("checkout", "--quiet", "-b", "deploy/dev/api/v2.0.0");
    await repo.write(DEV, (await repo.read(DEV)).replace("newTag: v1.0.0", "newTag: v2.0.0").replace(/(worker\n\s+newTag:) v1\.0\.0/, "$1 v9.0.0"));
    await repo.git("commit", "--quiet", "-am", "api and worker by hand");
    const theirs = (await repo.git("rev-parse", "HEAD")).trim();
    await repo.git("checkout", "--quiet", "main");
    const before = await repo.state();

    const result = await repo.cli(["bump-image", "v2.0.0", "--image", "api"]);

    expect(result.code).toBe(1);
    expect(result.stderr).toContain("branch deploy/dev/api/v2.0.0 already exists with commits that are not on main and are not this move");
    expect((await repo.git("rev-parse", "deploy/dev/api/v2.0.0")).trim()).toBe(theirs);
    expect(await repo.state()).toEqual(before);
  });

  it("without --image, a spec of several images is a usage error that lists them, and nothing changes", { timeout: SLOW }, async () => {
    const repo = await newRepo();
    const before = await repo.state();
    const result = await repo.cli(["bump-image", "v2.0.0"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`${API} (api)`);
    expect(result.stderr).toContain(`${WORKER} (worker)`);
    expect(await repo.state()).toEqual(before);
    const rollback = await repo.cli(["rollback", "staging"]);
    expect(rollback.code).toBe(2);
    expect(rollback.stderr).toContain(`${WORKER} (worker)`);
  });
});

describe("promote of a two-image spec", () => {
  it("moves and names only the image that differs; says when nothing does; several that differ share one branch", { timeout: SLOW }, async () => {
    const repo = await newRepo();
    const nothing = await repo.cli(["promote", "staging"]);
    expect(nothing.code, nothing.stderr).toBe(0);
    expect(nothing.stdout).toContain("nothing to promote");

    expect((await repo.cli(["bump-image", "v2.0.0", "--image", "api"])).code).toBe(0);
    await mergeIntoMain(repo, "deploy/dev/api/v2.0.0", 1);
    const one = await repo.cli(["promote", "staging", "--json"]);
    expect(one.code, one.stderr).toBe(0);
    const json = JSON.parse(one.stdout);
    expect(json.branch).toBe("deploy/staging/api/v2.0.0");
    expect(json.images.map((i: { image: string }) => i.image)).toEqual([API]);
    expect(json.unchanged).toEqual([WORKER]);
    const subject = (await repo.git("log", "-1", "--format=%B")).trim();
    expect(subject.split("\n")[0]).toBe("promote(staging): api v1.0.0 → v2.0.0 from dev");
    expect(subject).not.toContain("worker");
    expect(await repo.git("diff", "--name-only", "main", "HEAD")).toBe("overlays/staging/kustomization.yaml\n");

    // worker moves in dev too: a promote now carries both, on one branch naming both.
    await repo.git("checkout", "--quiet", "main");
    await repo.git("branch", "--quiet", "-D", "deploy/staging/api/v2.0.0");
    expect((await repo.cli(["bump-image", "v2.0.0", "--image", "worker"])).code).toBe(0);
    await mergeIntoMain(repo, "deploy/dev/worker/v2.0.0", 2);
    const both = await repo.cli(["promote", "staging"]);
    expect(both.code, both.stderr).toBe(0);
    expect((await repo.git("branch", "--show-current")).trim()).toBe("deploy/staging/api+worker/v2.0.0");
    expect(both.stdout).toContain("promote(staging): api v1.0.0 → v2.0.0, worker v1.0.0 → v2.0.0 from dev");
    // --image picks one of them, by short name.
    await repo.git("checkout", "--quiet", "main");
    const picked = await repo.cli(["promote", "staging", "--image", "worker", "--dry-run", "--json"]);
    expect(picked.code, picked.stderr).toBe(0);
    expect(JSON.parse(picked.stdout).branch).toBe("deploy/staging/worker/v2.0.0");
  });
});

describe("status per image", () => {
  it("shows each image's tag and the open pull requests that move it", { timeout: SLOW }, async () => {
    const repo = await newRepo();
    const gh = await newFake();
    gh.addPull({ head: "deploy/dev/api/v2.0.0", title: "deploy(dev): api v1.0.0 → v2.0.0" });
    gh.addPull({ head: "deploy/dev/worker/v2.0.0", title: "deploy(dev): worker v1.0.0 → v2.0.0" });
    const status = await withToken(repo, gh, ["status", "--json"]);
    expect(status.code, status.stderr).toBe(0);
    const dev = JSON.parse(status.stdout).environments[0];
    expect(dev.images.map((i: { image: string; tag: string }) => [i.image, i.tag])).toEqual([
      [API, "v1.0.0"],
      [WORKER, "v1.0.0"],
    ]);
    expect(dev.pullRequests.map((p: { number: number; images: string[] }) => [p.number, p.images])).toEqual([
      [1, [API]],
      [2, [WORKER]],
    ]);
    const text = await withToken(repo, gh, ["status"]);
    const rows = text.stdout.split("\n").filter((l) => l.includes("registry.example.com/shop/"));
    expect(rows.find((l) => l.includes(API))).toContain("#1 api/v2.0.0");
    expect(rows.find((l) => l.includes(API))).not.toContain("#2");
    expect(rows.find((l) => l.includes(WORKER))).toContain("#2 worker/v2.0.0");
  });
});
