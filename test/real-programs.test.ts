// The containers' own commands, taken from the RENDERED manifests, run by the real programs
// against real servers started here: PostgreSQL 15 (Debian's postgresql-15, the major version the
// manifests run) and Redis (Debian's redis-server). Only what a kubelet and the image provide is
// mapped (test/support/containers.ts): the environment from env/envFrom and the rendered
// ConfigMaps (secret values supplied here), the uid and gid of the securityContext, volumes as
// temp directories, and the Service address as the test server's 127.0.0.1 port.
//
// Clients of libpq run as a uid WITHOUT a passwd entry, because that is what the images give a
// uid they do not know (the postgres images map only 70 or 999; the migration Job runs as 1000):
// libpq then has no default user name, and pg_isready makes "no attempt" (exit 3) unless the
// container names one. These tests need Linux (setpriv, unshare, Debian's packages: run
// `bash scripts/install-test-deps.sh`, which the README's test command does); elsewhere they skip.
import { readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { KubeObject } from "../tools/core/yaml.ts";
import { PG_BIN, argv, container, containerEnv, find, hasPasswdEntry, identity, isLinux, renderOverlay, runAs, uidWithoutEntry, type Container } from "./support/containers.ts";
import { startPostgres, type Postgres } from "./support/servers.ts";

// Debian keeps the PostgreSQL 15 programs here (the image has them on PATH); /usr/bin/pg_isready
// would be Debian's version-picking wrapper, not the program itself.
const PATH = `${PG_BIN}:/usr/local/bin:/usr/bin:/bin`;
const SECRETS = {
  "ringlet-db-credentials/username": "ringlet",
  "ringlet-db-credentials/password": "s3cret-for-tests",
  "ringlet-django/secret-key": "not-a-real-key",
};

interface Rendered {
  app: KubeObject[];
  data: KubeObject[];
}
const rendered = new Map<string, Rendered>();
let pg: Postgres;

async function overlay(env: string): Promise<Rendered> {
  const known = rendered.get(env);
  if (known) return known;
  const [app, data] = await Promise.all([renderOverlay(`overlays/${env}`), renderOverlay(`overlays/${env}/data`)]);
  rendered.set(env, { app, data });
  return { app, data };
}

describe.skipIf(!isLinux)("real programs: PostgreSQL", () => {
  beforeAll(async () => {
    pg = await startPostgres();
    const { data } = await overlay("dev");
    const database = (find(data, "ConfigMap", "ringlet-connection").data as Record<string, string>).DATABASE_NAME!;
    const user = SECRETS["ringlet-db-credentials/username"];
    const created = await pg.psql([`CREATE ROLE ${user} LOGIN PASSWORD '${SECRETS["ringlet-db-credentials/password"]}'`, `CREATE DATABASE ${database} OWNER ${user}`]);
    expect(created.stderr).toBe("");
  }, 120_000);
  afterAll(async () => {
    await pg?.cleanup();
  });

  /** The migration hook's wait-for-db init container, ready to run against the test server. */
  async function waitForDb(env: string): Promise<{ c: Container; argv: string[]; env: Record<string, string>; uid: number; gid: number; manifestUid: number }> {
    const { app, data } = await overlay(env);
    const job = app.find((o) => o.kind === "Job" && o.metadata?.annotations?.["argocd.argoproj.io/hook"] === "PreSync");
    if (!job) throw new Error(`${env}: no PreSync Job rendered`);
    const c = container(job, "wait-for-db");
    const vars = containerEnv(c, [...app, ...data], SECRETS);
    // The Service (or the managed endpoint) is the test server.
    vars.DATABASE_HOST = pg.host;
    vars.DATABASE_PORT = String(pg.port);
    const { uid: manifestUid, gid } = identity(job, c);
    return { c, argv: argv(c), env: vars, uid: await uidWithoutEntry(manifestUid), gid, manifestUid };
  }

  it("runs clients as a uid without a passwd entry, as the image does", async () => {
    const { uid, manifestUid } = await waitForDb("dev");
    expect(await hasPasswdEntry(uid)).toBe(false);
    // Say which uid stood in for the manifest's, so a reader of the log knows.
    if (uid !== manifestUid) console.info(`uid ${manifestUid} has a passwd entry on this machine; running as ${uid}, which has none (as ${manifestUid} in the image)`);
  });

  it.each(["dev", "prod"])("%s: the migration hook's wait-for-db reaches a running PostgreSQL 15", async (env) => {
    const w = await waitForDb(env);
    // The manifest's own loop (timeout 600 ... until pg_isready): it ends as soon as pg_isready
    // succeeds. A manifest whose pg_isready can never succeed loops; the deadline ends the test.
    const ran = await runAs(w.argv, { uid: w.uid, gid: w.gid, env: w.env, path: PATH, deadlineMs: 20_000 });
    expect({ timedOut: ran.timedOut, code: ran.code, stdout: ran.stdout, stderr: ran.stderr }).toEqual({
      timedOut: false,
      code: 0,
      stdout: `${pg.host}:${pg.port} - accepting connections\n`,
      stderr: "",
    });
  }, 30_000);

  it("the wait loop keeps waiting while the database is down, and ends once it is up", async () => {
    const w = await waitForDb("dev");
    await pg.pause();
    try {
      const running = runAs(w.argv, { uid: w.uid, gid: w.gid, env: w.env, path: PATH, deadlineMs: 40_000 });
      await new Promise((resolve) => setTimeout(resolve, 3_000));
      await pg.start();
      const ran = await running;
      expect(ran.timedOut).toBe(false);
      expect(ran.code).toBe(0);
      expect(ran.stdout).toContain("no response");
      expect(ran.stdout).toContain(`waiting for ${pg.host}:${pg.port}`);
      expect(ran.stdout).toContain("accepting connections");
    } finally {
      await pg.start().catch(() => undefined);
    }
  }, 60_000);

  it("PostgreSQL's readiness and liveness commands succeed against the running server and fail when it is down", async () => {
    const { data } = await overlay("dev");
    const sts = find(data, "StatefulSet", "ringlet-postgres");
    const c = container(sts, "postgres");
    const vars = containerEnv(c, data, SECRETS);
    // The socket the image's libpq finds by default (/var/run/postgresql, the "run" volume) is
    // the test server's socket directory, on its port.
    vars.PGHOST = pg.socketDir;
    vars.PGPORT = String(pg.port);
    const { uid: manifestUid, gid } = identity(sts, c);
    const uid = await uidWithoutEntry(manifestUid);
    const probes = [c.readinessProbe, c.livenessProbe, c.startupProbe].map((p) => p?.exec?.command as string[] | undefined).filter((x): x is string[] => Array.isArray(x));
    expect(probes.length).toBeGreaterThan(0);
    for (const command of probes) {
      if (!command) continue;
      const up = await runAs(command, { uid, gid, env: vars, path: PATH, deadlineMs: 15_000 });
      expect({ code: up.code, out: up.stdout + up.stderr }).toEqual({ code: 0, out: expect.stringContaining("accepting connections") });
    }
    await pg.pause();
    try {
      for (const command of probes) {
        if (!command) continue;
        const down = await runAs(command, { uid, gid, env: vars, path: PATH, deadlineMs: 15_000 });
        expect(down.code).not.toBe(0);
      }
    } finally {
      await pg.start();
    }
  }, 60_000);
});
