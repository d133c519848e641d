// git push and fetch have a deadline (GITOPS_GIT_TIMEOUT_S): a remote that accepts the connection
// and never answers (a wedged proxy, a firewall that drops after the handshake) must not hold a
// deploy, and the deploy lock with it, forever. The remote here is a real TCP server on this
// machine that accepts and then says nothing; git itself talks to it.
import { createServer, type Server, type Socket } from "node:net";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { push } from "../tools/git/git.ts";
import { startFakeGitHub, type FakeGitHub } from "./support/fake-github.ts";
import { testRepos } from "./support/repo.ts";

const TOKEN = "ghs_DEADLINETOKEN0123456789";
const newRepo = testRepos();
let silent: Server;
const sockets: Socket[] = [];
let url: string;
let gh: FakeGitHub | undefined;

beforeAll(async () => {
  silent = createServer((socket) => {
    sockets.push(socket);
    socket.on("error", () => undefined);
  });
  await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(silent.address() as AddressInfo).port}/repo.git`;
});
afterAll(async () => {
  for (const s of sockets) s.destroy();
  await new Promise<void>((resolve) => silent.close(() => resolve()));
  await gh?.close();
});

describe("git push has a deadline", () => {
  it("push() to a remote that never answers returns a failure naming the deadline, in bounded time", async () => {
    const repo = await newRepo();
    await repo.git("remote", "set-url", "--push", "origin", url);
    const saved = process.env.GITOPS_GIT_TIMEOUT_S;
    process.env.GITOPS_GIT_TIMEOUT_S = "1";
    const started = Date.now();
    try {
      const outcome = await push(repo.root, "origin", "deadline-test");
      expect(outcome.ok).toBe(false);
      if (!outcome.ok) {
        expect(outcome.rejected).toBe(false);
        expect(outcome.message).toBe("git push did not finish within 1 s (GITOPS_GIT_TIMEOUT_S) and was stopped");
      }
    } finally {
      if (saved === undefined) delete process.env.GITOPS_GIT_TIMEOUT_S;
      else process.env.GITOPS_GIT_TIMEOUT_S = saved;
    }
    // git alone would wait for the server until TCP gives up (minutes, or never with keep-alive).
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(sockets.length).toBeGreaterThan(0);
  });

  it("bump-image against such a remote: exit 1, the deadline named, the commit kept on its branch, no stack trace", { timeout: 240_000 }, async () => {
    const repo = await newRepo();
    gh = await startFakeGitHub({ owner: "ringlet", repo: "ringlet-gitops", token: TOKEN });
    await repo.git("remote", "set-url", "--push", "origin", url);
    const main = (await repo.git("rev-parse", "HEAD")).trim();

    const result = await repo.cli(["bump-image", "v9.9.9"], {
      GITHUB_TOKEN: TOKEN,
      GITHUB_API_URL: gh.url,
      GITHUB_REPOSITORY: "ringlet/ringlet-gitops",
      GITOPS_GITHUB_RETRY_UNIT_MS: "1",
      GITOPS_GIT_TIMEOUT_S: "2",
    });

    expect(result.code, result.stderr).toBe(1);
    expect(result.stderr).toContain("did not finish within 2 s (GITOPS_GIT_TIMEOUT_S)");
    expect(result.stderr).not.toMatch(/\n\s+at /);
    expect(`${result.stdout}${result.stderr}`).not.toContain(TOKEN);
    // The move is committed on the deploy branch, one commit on top of main, nothing lost.
    const branch = (await repo.git("branch", "--show-current")).trim();
    expect(branch).toMatch(/^deploy\//);
    expect((await repo.git("rev-parse", `${branch}~1`)).trim()).toBe(main);
    expect(await repo.git("diff", "--name-only", main, branch)).toMatch(/kustomization\.yaml/);
    expect(result.stderr).toContain(`The commit stays on the local branch ${branch}; nothing is lost. Next step: run this command again once origin answers`);
    expect(gh.pulls).toEqual([]);

    // The next step works: once origin answers, the same command pushes that commit and opens the pull request.
    await repo.git("remote", "set-url", "--push", "origin", repo.origin);
    const again = await repo.cli(["bump-image", "v9.9.9"], { GITHUB_TOKEN: TOKEN, GITHUB_API_URL: gh.url, GITHUB_REPOSITORY: "ringlet/ringlet-gitops", GITOPS_GITHUB_RETRY_UNIT_MS: "1" });
    expect(again.code, again.stderr).toBe(0);
    expect(gh.pulls.map((p) => p.head)).toEqual([branch]);
    expect((await repo.git("ls-remote", repo.origin, `refs/heads/${branch}`)).split("\t")[0]).toBe((await repo.git("rev-parse", branch)).trim());
  });
});
