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
import { chown, readdir, rm, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { KubeObject } from "../tools/core/yaml.ts";
import { run } from "../tools/core/process.ts";
import {
  PG_BIN,
  argv,
  container,
  containerEnv,
  find,
  freePort,
  hasPasswdEntry,
  identity,
  isLinux,
  isRoot,
  mapPaths,
  ownedDir,
  podSpec,
  containersOf,
  renderEnvironments,
  runs,
  testSecrets,
  TEST_DB_PASSWORD,
  TEST_DB_USER,
  runAs,
  shimDir,
  uidWithoutEntry,
  type Any,
  type Container,
} from "./support/containers.ts";
import { startDaemon, startPostgres, type Postgres } from "./support/servers.ts";

// Debian keeps the PostgreSQL 15 programs here (the image has them on PATH); /usr/bin/pg_isready
// would be Debian's version-picking wrapper, not the program itself.
const PATH = `${PG_BIN}:/usr/local/bin:/usr/bin:/bin`;

// This repository's own manifests, read generically (test/fixtures/README.md): a fork that edits
// its spec, base and environments keeps these tests meaningful and green. Environments come from
// the spec, objects from the render, containers are found by what they run (pg_isready, pg_dump,
// redis-server), secret values are made up for whatever secretKeyRef the manifests make.
const rendered = await renderEnvironments();
const everything = [...rendered.values()].flat();
const SECRETS = testSecrets(everything);
let pg: Postgres;

/** Environments whose rendered containers run `program` in their own command. */
const envsRunning = (program: string) => [...rendered].filter(([, objects]) => containersOf(objects).some(({ c }) => runs(c, program))).map(([env]) => env);
const WAITING = envsRunning("pg_isready");
/** An in-cluster PostgreSQL: a workload whose probes run pg_isready (the server's own checks). */
const probesPostgres = (c: Container) => [c.readinessProbe, c.livenessProbe, c.startupProbe].some((p) => (p?.exec?.command as string[] | undefined)?.some((w) => /pg_isready/.test(w)));
const PG_ENV = [...rendered].find(([, objects]) => containersOf(objects).some(({ c }) => probesPostgres(c)))?.[0];
const BACKUP_ENV = envsRunning("pg_dump")[0];
const REDIS_ENV = envsRunning("redis-server")[0];

/** Points every *_HOST / *_PORT variable of a client at the test server (the Service or managed endpoint it names). */
function atServer(vars: Record<string, string>, host: string, port: number): Record<string, string> {
  for (const k of Object.keys(vars)) {
    if (/HOST$/.test(k)) vars[k] = host;
    if (/PORT$/.test(k)) vars[k] = String(port);
  }
  return vars;
}

describe.skipIf(!isLinux || (WAITING.length === 0 && !PG_ENV && !BACKUP_ENV))("real programs: PostgreSQL", () => {
  const databases = new Set<string>();
  /** The application's role and a database as the manifests name them, created once. */
  async function ensureDatabase(database: string): Promise<void> {
    if (databases.has(database)) return;
    if (databases.size === 0) expect((await pg.psql([`CREATE ROLE ${TEST_DB_USER} LOGIN PASSWORD '${TEST_DB_PASSWORD}'`])).stderr).toBe("");
    databases.add(database);
    expect((await pg.psql([`CREATE DATABASE ${database} OWNER ${TEST_DB_USER}`])).stderr).toBe("");
  }
  beforeAll(async () => {
    pg = await startPostgres();
  }, 120_000);
  afterAll(async () => {
    await pg?.cleanup();
  });

  /** The container that waits for the database (its command runs pg_isready), ready to run against the test server. */
  async function waitForDb(env: string): Promise<{ c: Container; argv: string[]; env: Record<string, string>; uid: number; gid: number; manifestUid: number }> {
    const objects = rendered.get(env)!;
    const found = containersOf(objects).find(({ c }) => runs(c, "pg_isready"));
    if (!found) throw new Error(`${env}: no container runs pg_isready`);
    const { workload, c } = found;
    const vars = atServer(containerEnv(c, objects, SECRETS), pg.host, pg.port);
    if (vars.PGDATABASE) await ensureDatabase(vars.PGDATABASE);
    const { uid: manifestUid, gid } = identity(workload, c);
    return { c, argv: argv(c), env: vars, uid: await uidWithoutEntry(manifestUid), gid, manifestUid };
  }

  it.skipIf(WAITING.length === 0)("runs clients as a uid without a passwd entry, as the image does", async () => {
    const { uid, manifestUid } = await waitForDb(WAITING[0]!);
    expect(await hasPasswdEntry(uid)).toBe(false);
    // Say which uid stood in for the manifest's, so a reader of the log knows.
    if (uid !== manifestUid) console.info(`uid ${manifestUid} has a passwd entry on this machine; running as ${uid}, which has none (as ${manifestUid} in the image)`);
  });

  it.each(WAITING)("%s: the container that waits for the database (pg_isready) reaches a running PostgreSQL 15", async (env) => {
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

  it.skipIf(WAITING.length === 0)("the wait loop keeps waiting while the database is down, and ends once it is up", async () => {
    const w = await waitForDb(WAITING[0]!);
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

  it.skipIf(!PG_ENV)("PostgreSQL's readiness and liveness commands succeed against the running server and fail when it is down", async () => {
    const objects = rendered.get(PG_ENV!)!;
    const { workload: sts, c } = containersOf(objects).find(({ c }) => probesPostgres(c))!;
    const vars = containerEnv(c, objects, SECRETS);
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

  it.skipIf(!BACKUP_ENV)("the backup's pg_dump writes a dump that pg_restore brings back into a second database, identical; old dumps expire", async () => {
    const objects = rendered.get(BACKUP_ENV!)!;
    const { workload: cron, c } = containersOf(objects).find(({ c }) => runs(c, "pg_dump"))!;
    const vars = containerEnv(c, objects, SECRETS);
    const database = vars.PGDATABASE!;
    await ensureDatabase(database);
    // It dumps the in-cluster server: PGHOST names a rendered Service selecting the PostgreSQL
    // pods. That Service is the test server (TCP, password authentication as in the image).
    const service = objects.find((o) => o.kind === "Service" && o.metadata?.name === vars.PGHOST!.split(".")[0]);
    expect(service, `PGHOST ${vars.PGHOST} names no rendered Service`).toBeDefined();
    const selector = (service!.spec as Any).selector as Record<string, string>;
    expect(containersOf(objects).some(({ workload, c: s }) => probesPostgres(s) && Object.entries(selector).every(([k, v]) => (workload.spec as Any).template.metadata.labels[k] === v))).toBe(true);
    vars.PGHOST = pg.host;
    vars.PGPORT = String(pg.port);
    const { uid: manifestUid, gid } = identity(cron, c);
    const uid = await uidWithoutEntry(manifestUid);
    const mounts: Record<string, string> = {};
    for (const m of c.volumeMounts ?? []) {
      mounts[m.mountPath] = await ownedDir(uid, gid, "repo-test-backup-");
    }
    const backups = (c.volumeMounts ?? []).map((m) => m.mountPath).find((p) => argv(c).join(" ").includes(p));
    if (!backups) throw new Error("the pg_dump command writes to none of its volumes");
    const dir = mounts[backups]!;
    try {
      const seeded = await pg.psql(
        [
          "CREATE TABLE course (id bigserial PRIMARY KEY, title text NOT NULL UNIQUE, created timestamptz NOT NULL DEFAULT now())",
          "ALTER TABLE course OWNER TO " + TEST_DB_USER,
          "INSERT INTO course (title) SELECT 'course ' || g FROM generate_series(1, 500) g",
        ],
        database,
      );
      expect(seeded.stderr).toBe("");
      // An old dump past the retention, and a recent one, both left by earlier runs.
      const days = Number(vars.BACKUP_RETENTION_DAYS);
      expect(days).toBeGreaterThan(0);
      const old = join(dir, `${database}-20000101T000000Z.dump`);
      const recent = join(dir, `${database}-recent.dump`);
      await writeFile(old, "old");
      await writeFile(recent, "recent");
      await utimes(old, new Date(Date.now() - (days + 2) * 86_400_000), new Date(Date.now() - (days + 2) * 86_400_000));
      if (isRoot) await Promise.all([chown(old, uid, gid), chown(recent, uid, gid)]);

      const command = argv(c).map((a) => mapPaths(a, mounts));
      const ran = await runAs(command, { uid, gid, env: vars, path: PATH, deadlineMs: 60_000 });
      expect({ code: ran.code, stderr: ran.stderr }).toEqual({ code: 0, stderr: "" });
      const files = (await readdir(dir)).sort();
      const dumps = files.filter((f) => f.endsWith(".dump") && f !== `${database}-recent.dump`);
      expect(dumps).toHaveLength(1);
      expect(files).toContain(`${database}-recent.dump`);
      expect(files).not.toContain(`${database}-20000101T000000Z.dump`);
      expect(files.filter((f) => f.endsWith(".partial"))).toEqual([]);

      // The README's restore: pg_restore into an empty database, as the application's role.
      const restoreDb = `${database}_restore`;
      expect((await pg.psql([`CREATE DATABASE ${restoreDb} OWNER ${TEST_DB_USER}`])).stderr).toBe("");
      const restored = await runAs(["pg_restore", "--no-owner", "--exit-on-error", `--dbname=${restoreDb}`, join(dir, dumps[0]!)], { uid, gid, env: vars, path: PATH, deadlineMs: 60_000 });
      expect({ code: restored.code, stderr: restored.stderr }).toEqual({ code: 0, stderr: "" });
      // Same schema and data: plain dumps of both databases, without comments and pg_dump's
      // per-run \restrict keys, are identical.
      const plain = async (db: string) => {
        const out = await run(join(PG_BIN, "pg_dump"), ["--format=plain", "--no-owner", "-h", pg.socketDir, "-p", String(pg.port), "-U", pg.superuser, db], { cwd: "/" });
        expect(out.code).toBe(0);
        return out.stdout
          .split("\n")
          .filter((l) => !l.startsWith("--") && !/^\\(un)?restrict /.test(l))
          .join("\n");
      };
      const [before, after] = await Promise.all([plain(database), plain(restoreDb)]);
      expect(before).toContain("course 500");
      expect(after).toBe(before);
    } finally {
      for (const d of Object.values(mounts)) await rm(d, { recursive: true, force: true });
    }
  }, 120_000);
});

interface RedisRole {
  role: "cache" | "broker";
  key: string;
  workload: KubeObject;
  c: Container;
}
/** Each redis:// URL of the rendered ConfigMaps: a broker's (its key names one) or a cache's, and the server it reaches. */
async function roles(env: string): Promise<RedisRole[]> {
  const data = rendered.get(env)!;
  const urls = data.filter((o) => o.kind === "ConfigMap").flatMap((o) => Object.entries((o.data ?? {}) as Record<string, string>).filter(([, v]) => /^rediss?:\/\//.test(v)));
  return urls.map(([key, url]) => {
    const role = /BROKER/i.test(key) ? ("broker" as const) : ("cache" as const);
    const host = new URL(url).hostname.split(".")[0]!;
    const svc = find(data, "Service", host);
    const selector = (svc.spec as Any).selector as Record<string, string>;
    const workload = data.find(
      (o) => (o.kind === "Deployment" || o.kind === "StatefulSet") && Object.entries(selector).every(([k, v]) => (o.spec as Any).template.metadata.labels[k] === v),
    );
    if (!workload) throw new Error(`${key}: Service ${host} selects no workload`);
    const c = (podSpec(workload).containers as Container[]).find((x) => runs(x, "redis-server"))!;
    return { role, key, workload, c };
  });
}

const ROLES = REDIS_ENV ? await roles(REDIS_ENV) : [];
const CACHE = ROLES.find((r) => r.role === "cache");
const BROKER = ROLES.find((r) => r.role === "broker");

// Redis: which server is the cache and which the broker follows the wiring the applications use
// (the URLs in the rendered connection ConfigMap -> Service -> the pods it selects), and each is
// started with its manifest's own argv as its manifest's uid. Mapped: the Service port (a
// `--bind 127.0.0.1 --port <free>` appended: later arguments win in redis-server) and, for
// redis-cli in the probes, a shim first on PATH that adds `-p <port>`; volume mount paths in the
// arguments become temp directories owned by the uid.
describe.skipIf(!isLinux || !REDIS_ENV)("real programs: Redis", () => {
  const started: { stop(): Promise<void> }[] = [];
  const dirs: string[] = [];
  beforeAll(async () => {
    const found = await run("sh", ["-c", "command -v redis-server && command -v redis-cli && command -v setpriv"], { env: { PATH } });
    if (found.code !== 0) throw new Error("redis-server, redis-cli or setpriv is missing: run `bash scripts/install-test-deps.sh`");
  });
  afterAll(async () => {
    for (const s of started) await s.stop();
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  async function startRedis(r: RedisRole, extra: string[] = [], reuse?: Record<string, string>) {
    const { uid, gid } = identity(r.workload, r.c);
    const mounts: Record<string, string> = { ...reuse };
    for (const m of r.c.volumeMounts ?? []) {
      if (mounts[m.mountPath]) continue;
      mounts[m.mountPath] = await ownedDir(uid, gid, "repo-test-redis-");
      dirs.push(mounts[m.mountPath]!);
    }
    // The image's working directory is its /data; without a volume there the root filesystem is
    // read-only: a directory this uid cannot write to.
    const workdir = mounts["/data"] ?? (await ownedDir(0, 0, "repo-test-redis-ro-", 0o555));
    if (!mounts["/data"]) dirs.push(workdir);
    const port = await freePort();
    // No `command`: the image's entrypoint (docker-entrypoint.sh) gets the args and, for a non-root
    // uid, execs them as they are (it prepends redis-server only to args starting with "-").
    expect(r.c.command).toBeUndefined();
    const command = argv(r.c).map((a) => mapPaths(a, mounts));
    expect(command[0]).toBe("redis-server");
    const daemon = startDaemon([...command, ...extra, "--bind", "127.0.0.1", "--port", String(port)], { uid, gid, env: {}, path: PATH, cwd: workdir });
    started.push(daemon);
    const cli = (...args: string[]) => run("redis-cli", ["-p", String(port), ...args]);
    // Up once it answers at all (PONG, or an error such as NOAUTH).
    for (let i = 0; i < 100 && (await cli("ping")).stdout.trim() === ""; i++) {
      if (daemon.child.exitCode !== null) throw new Error(`redis-server exited: ${daemon.output()}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const shims = await shimDir({ "redis-cli": `#!/bin/sh\nexec /usr/bin/redis-cli -p ${port} "$@"\n` });
    dirs.push(shims);
    const config = async (name: string) => (await cli("config", "get", name)).stdout.trim().split("\n")[1] ?? "";
    return { daemon, port, cli, config, mounts, workdir, uid, gid, probePath: `${shims}:${PATH}` };
  }

  const limitBytes = (c: Container) => {
    const m = /^(\d+)(Mi|Gi)$/.exec(String((c as Any).resources?.limits?.memory));
    if (!m) throw new Error(`${c.name}: memory limit not in Mi or Gi`);
    return Number(m[1]) * (m[2] === "Gi" ? 1024 ** 3 : 1024 ** 2);
  };

  it.skipIf(!CACHE || !BROKER)("the cache and the broker are two servers", () => {
    expect(CACHE!.workload.metadata?.name).not.toBe(BROKER!.workload.metadata?.name);
  });

  it.skipIf(!CACHE)("the cache evicts (allkeys-lru), persists nothing, and writes nothing to disk", async () => {
    const cache = CACHE;
    const r = await startRedis(cache!);
    expect(await r.config("maxmemory-policy")).toBe("allkeys-lru");
    expect(await r.config("appendonly")).toBe("no");
    expect(await r.config("save")).toBe("");
    const maxmemory = Number(await r.config("maxmemory"));
    expect(maxmemory).toBeGreaterThan(0);
    expect(maxmemory).toBeLessThan(limitBytes(cache!.c));
    expect((await r.cli("set", "k", "v")).stdout.trim()).toBe("OK");
    // A shutdown that tried to save would fail on the read-only working directory.
    await r.cli("shutdown");
    await r.daemon.stop();
    expect(r.daemon.output()).not.toMatch(/Error|Failed/i);
    expect(await readdir(r.workdir)).toEqual([]);
  }, 60_000);

  it.skipIf(!BROKER)("the broker never evicts (noeviction), keeps its queue across a restart (append-only file), and its maxmemory leaves room for a rewrite's fork", async () => {
    const broker = BROKER;
    const r = await startRedis(broker!);
    expect(await r.config("maxmemory-policy")).toBe("noeviction");
    expect(await r.config("appendonly")).toBe("yes");
    expect(await r.config("dir")).toBe(r.mounts["/data"]);
    const maxmemory = Number(await r.config("maxmemory"));
    expect(maxmemory).toBeGreaterThan(0);
    // The dataset, a rewrite child's copy of it, and headroom (a quarter of the dataset) fit.
    expect(maxmemory * 2.25).toBeLessThanOrEqual(limitBytes(broker!.c));
    expect((await r.cli("rpush", "celery", "task-1")).stdout.trim()).toBe("1");
    await r.daemon.stop();
    // Restarted on the same volume, the queued task is still there.
    const again = await startRedis(broker!, [], r.mounts);
    expect((await again.cli("lrange", "celery", "0", "-1")).stdout.trim()).toBe("task-1");
    await again.daemon.stop();
  }, 60_000);

  it.each([...new Set(ROLES.map((r) => r.role))])("%s: the readiness command passes on PONG and fails on an error reply or a stopped server", async (role) => {
    const r = ROLES.find((x) => x.role === role)!;
    const command = r.c.readinessProbe?.exec?.command as string[];
    expect(command).toBeDefined();
    const probe = (s: { uid: number; gid: number; probePath: string }) => runAs(command, { uid: s.uid, gid: s.gid, env: {}, path: s.probePath, deadlineMs: 15_000 });
    const up = await startRedis(r);
    expect((await probe(up)).code).toBe(0);
    await up.daemon.stop();
    expect((await probe(up)).code).not.toBe(0);
    // A server that answers PING with an error (here NOAUTH; LOADING while it replays its file).
    const erring = await startRedis(r, ["--requirepass", "not-the-probe's"]);
    expect((await erring.cli("ping")).stdout).toContain("NOAUTH");
    expect((await probe(erring)).code).not.toBe(0);
    await erring.daemon.stop();
  }, 60_000);
});
