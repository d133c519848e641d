// Throw-away data servers for the real-program tests: a PostgreSQL 15 (Debian's postgresql-15,
// scripts/install-test-deps.sh) and any long-running program started from a manifest's argv
// (redis-server). Servers run as an unprivileged uid in temp directories they own, on 127.0.0.1
// and random ports; nothing of the machine's own services is used or touched.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { run, type RunResult } from "../../tools/core/process.ts";
import { PG_BIN, freePort, isRoot, ownedDir } from "./containers.ts";

export interface Postgres {
  host: string;
  port: number;
  /** Unix socket directory (the image's /var/run/postgresql). */
  socketDir: string;
  superuser: string;
  /** Runs psql as the superuser over the socket: setup and checks of the test itself. */
  psql(sql: string | string[], database?: string): Promise<RunResult>;
  stop(): Promise<void>;
  /** Stops the server but keeps its files, so that start() brings it back on the same port. */
  pause(): Promise<void>;
  start(): Promise<void>;
  cleanup(): Promise<void>;
}

/** The server's own identity: root may not run initdb, and initdb needs a passwd entry for its uid. */
async function serverIdentity(): Promise<{ uid: number; gid: number; wrap: string[] }> {
  if (!isRoot) return { uid: process.getuid!(), gid: process.getgid!(), wrap: [] };
  const line = (await run("getent", ["passwd", "nobody"])).stdout.trim().split(":");
  const uid = Number(line[2]);
  const gid = Number(line[3]);
  return { uid, gid, wrap: ["setpriv", `--reuid=${uid}`, `--regid=${gid}`, "--clear-groups", "--"] };
}

async function must(argv: string[], what: string, env: NodeJS.ProcessEnv = process.env): Promise<RunResult> {
  const result = await run(argv[0]!, argv.slice(1), { env, cwd: "/" });
  if (result.code !== 0) throw new Error(`${what} failed (exit ${result.code}):\n${result.stdout}\n${result.stderr}`);
  return result;
}

export function postgresAvailable(): boolean {
  return existsSync(join(PG_BIN, "initdb")) && existsSync(join(PG_BIN, "pg_ctl"));
}

export async function startPostgres(): Promise<Postgres> {
  if (!postgresAvailable()) throw new Error(`PostgreSQL 15 is not installed (${PG_BIN}): run \`bash scripts/install-test-deps.sh\``);
  const { uid, gid, wrap } = await serverIdentity();
  const home = await ownedDir(uid, gid, "ringlet-pg-", 0o755);
  const data = join(home, "data");
  const socketDir = home;
  const port = await freePort();
  const superuser = "postgres";
  const pwfile = join(home, "pwfile");
  await writeFile(pwfile, "superuser-password\n", { mode: 0o644 });
  // As the images do: local (socket) connections trusted, TCP connections by password (scram).
  await must([...wrap, join(PG_BIN, "initdb"), "-D", data, "-U", superuser, `--pwfile=${pwfile}`, "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--no-sync"], "initdb");
  const log = join(home, "server.log");
  const start = async () => {
    await must(
      [...wrap, join(PG_BIN, "pg_ctl"), "-D", data, "-l", log, "-w", "-t", "30", "-o", `-c listen_addresses=127.0.0.1 -p ${port} -k ${socketDir} -c fsync=off`, "start"],
      `pg_ctl start (log: ${log})`,
    ).catch(async (error: Error) => {
      throw new Error(`${error.message}\n${await readFile(log, "utf8").catch(() => "")}`);
    });
  };
  const stop = async () => {
    const argv = [...wrap, join(PG_BIN, "pg_ctl"), "-D", data, "-m", "fast", "-w", "stop"];
    await run(argv[0]!, argv.slice(1), { cwd: "/" });
  };
  await start();
  return {
    host: "127.0.0.1",
    port,
    socketDir,
    superuser,
    psql: (sql, database = "postgres") =>
      run(join(PG_BIN, "psql"), ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-At", "-h", socketDir, "-p", String(port), "-U", superuser, "-d", database, ...[sql].flat().flatMap((s) => ["-c", s])], { cwd: "/" }),
    pause: stop,
    start,
    stop,
    cleanup: async () => {
      await stop();
      await rm(home, { recursive: true, force: true });
    },
  };
}

export interface Daemon {
  child: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

/** Starts a long-running program (as uid:gid, with exactly env) and leaves it running until stop(). */
export function startDaemon(command: string[], opts: { uid: number; gid: number; env: Record<string, string>; path: string; cwd?: string }): Daemon {
  const wrapper = isRoot
    ? ["setpriv", `--reuid=${opts.uid}`, `--regid=${opts.gid}`, "--clear-groups", "--"]
    : ["unshare", "--user", `--map-user=${opts.uid}`, `--map-group=${opts.gid}`, "--"];
  const full = [...wrapper, ...command];
  const child = spawn(full[0]!, full.slice(1), { env: { PATH: opts.path, HOME: "/", ...opts.env }, cwd: opts.cwd ?? "/", stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout!.on("data", (b: Buffer) => (out += b.toString()));
  child.stderr!.on("data", (b: Buffer) => (out += b.toString()));
  const exited = new Promise<void>((resolve) => child.once("close", () => resolve()));
  return {
    child,
    output: () => out,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      await exited;
    },
  };
}
