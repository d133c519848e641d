// Celery's liveness probes, taken from the RENDERED manifests, run against a real Celery (Debian's
// python3-celery, django-celery-beat, Django) with a real Redis broker and a real PostgreSQL, as
// the uid and with the environment the manifest gives the container (test/support/containers.ts).
// The image's application module is not here, so a stand-in of a few lines takes its place: it
// does what the README says the image's Celery module does (the broker from CELERY_BROKER_URL,
// Django settings from the documented variables, and the README's own heartbeat snippet, run as
// written). Workloads are found by what their probes run, not by name, so that a fork's renamed
// or reconfigured workloads are still tested, and a fork without Celery skips.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { chmod, mkdir, mkdtemp, rm, stat, utimes, writeFile } from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TOOLS_ROOT } from "../tools/core/paths.ts";
import { run } from "../tools/core/process.ts";
import type { KubeObject } from "../tools/core/yaml.ts";
import { argv, containerEnv, freePort, identity, isLinux, mapPaths, ownedDir, podSpec, renderOverlay, runAs, type Any, type Container } from "./support/containers.ts";
import { startDaemon, startPostgres, type Daemon, type Postgres } from "./support/servers.ts";

// Debian's celery (/usr/bin/celery runs /usr/bin/python3), first on PATH as in the image.
const PATH = "/usr/bin:/bin";
const installed = () => existsSync("/usr/bin/celery") && existsSync("/usr/lib/python3/dist-packages/django_celery_beat");

interface Probed {
  workload: KubeObject;
  c: Container;
  probe: Any;
  objects: KubeObject[];
}

/** Every rendered container whose exec liveness probe runs `pattern`, in the first environment's overlays. */
function probed(objects: KubeObject[], pattern: RegExp): Probed[] {
  return objects.flatMap((workload) => {
    const pod = ["Deployment", "StatefulSet", "Rollout"].includes(workload.kind ?? "") ? podSpec(workload) : undefined;
    return ((pod?.containers ?? []) as Container[])
      .filter((c) => pattern.test((c.livenessProbe?.exec?.command ?? []).join(" ")))
      .map((c) => ({ workload, c, probe: c.livenessProbe!, objects }));
  });
}

/** The rendered objects of the first environment (every overlay directory under overlays/<env>/). */
async function firstEnvironment(): Promise<KubeObject[]> {
  const envs = readdirSync(join(TOOLS_ROOT, "overlays"), { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();
  const env = envs.find((e) => readdirSync(join(TOOLS_ROOT, "overlays", e)).includes("kustomization.yaml"));
  if (!env) return [];
  const dirs = [join("overlays", env), ...readdirSync(join(TOOLS_ROOT, "overlays", env), { withFileTypes: true }).filter((e) => e.isDirectory() && readdirSync(join(TOOLS_ROOT, "overlays", env, e.name)).includes("kustomization.yaml")).map((e) => join("overlays", env, e.name))];
  return (await Promise.all(dirs.map((dir) => renderOverlay(dir)))).flat();
}

/** A value for every Secret key the container reads (the Secrets come from the secret backend, not from git). */
function secretsFor(c: Container): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of c.env ?? []) {
    const ref = e.valueFrom?.secretKeyRef as { name: string; key: string } | undefined;
    if (ref) out[`${ref.name}/${ref.key}`] = `test_${ref.name}_${ref.key}`.replace(/[^A-Za-z0-9_]/g, "_");
  }
  return out;
}

/** $(VAR) in command and args, as the kubelet expands them from the container's environment. */
function expand(args: string[], env: Record<string, string>): string[] {
  return args.map((a) => a.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (m, n: string) => env[n] ?? m));
}

/** The `--app=<module>` a Celery command names (the image's application module). */
function appModule(command: string[]): string {
  const found = command.map((a) => /^(?:--app=|-A)(.+)$/.exec(a)?.[1]).find(Boolean);
  if (!found) throw new Error(`no --app in ${command.join(" ")}`);
  return found.split(".")[0]!;
}

/** The README's heartbeat snippet, as documented for the image's Celery module. */
function readmeHeartbeat(): string {
  const readme = readFileSync(join(TOOLS_ROOT, "README.md"), "utf8");
  const block = [...readme.matchAll(/```python\n([\s\S]*?)```/g)].map((m) => m[1]!).find((b) => b.includes("beat_init"));
  if (!block) throw new Error("README.md documents no heartbeat snippet (a ```python block with beat_init)");
  return block;
}

/**
 * The stand-in for the image's application package and its Django settings module (the one the
 * manifest's DJANGO_SETTINGS_MODULE names): what the README says the real ones do.
 */
async function standIn(module: string, dir: string, settingsModule = `${module}.settings`): Promise<void> {
  await mkdir(join(dir, module), { recursive: true, mode: 0o755 });
  const settingsFile = join(dir, ...settingsModule.split(".")) + ".py";
  await mkdir(dirname(settingsFile), { recursive: true, mode: 0o755 });
  await writeFile(
    settingsFile,
    [
      "import os",
      "SECRET_KEY = os.environ['DJANGO_SECRET_KEY']",
      "INSTALLED_APPS = ['django_celery_beat']",
      "USE_TZ = True",
      "TIME_ZONE = 'UTC'",
      "DATABASES = {'default': {'ENGINE': 'django.db.backends.postgresql', 'HOST': os.environ['DATABASE_HOST'], 'PORT': os.environ['DATABASE_PORT'],",
      "  'NAME': os.environ['DATABASE_NAME'], 'USER': os.environ['DATABASE_USER'], 'PASSWORD': os.environ['DATABASE_PASSWORD']}}",
      "",
    ].join("\n"),
  );
  await writeFile(
    join(dir, module, "__init__.py"),
    [
      "import os, pathlib",
      "import celery, celery.signals",
      `os.environ.setdefault('DJANGO_SETTINGS_MODULE', ${JSON.stringify(settingsModule)})`,
      "import django",
      "django.setup()",
      `app = celery.Celery(${JSON.stringify(module)}, broker=os.environ['CELERY_BROKER_URL'])`,
      "",
      readmeHeartbeat(),
    ].join("\n"),
    { mode: 0o644 },
  );
}

describe.skipIf(!isLinux)("real programs: Celery's liveness probes", () => {
  let objects: KubeObject[] = [];
  let pg: Postgres;
  let redisPort: number;
  let redis: Daemon;
  const dirs: string[] = [];
  const daemons: Daemon[] = [];
  let code: string;

  beforeAll(async () => {
    if (!installed()) throw new Error("Celery is not installed: run `bash scripts/install-test-deps.sh` (celery, python3-django-celery-beat)");
    objects = await firstEnvironment();
    code = await mkdtemp(join(tmpdir(), "celery-app-"));
    await chmod(code, 0o755);
    dirs.push(code);
    redisPort = await freePort();
    redis = startDaemon(["redis-server", "--bind", "127.0.0.1", "--port", String(redisPort), "--save", "", "--appendonly", "no"], { uid: process.getuid!(), gid: process.getgid!(), env: {}, path: PATH, cwd: code });
    for (let i = 0; i < 100 && (await run("redis-cli", ["-p", String(redisPort), "ping"])).stdout.trim() !== "PONG"; i++) await new Promise((r) => setTimeout(r, 100));
    pg = await startPostgres();
  }, 120_000);
  afterAll(async () => {
    for (const d of daemons) await d.stop();
    await redis?.stop();
    await pg?.cleanup();
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  /** The container's environment, its servers being the test's: the broker here, PostgreSQL here. */
  function environment(p: Probed): Record<string, string> {
    const env = containerEnv(p.c, p.objects, secretsFor(p.c));
    for (const [k, v] of Object.entries(env)) {
      if (/^rediss?:\/\//.test(v)) env[k] = v.replace(/^rediss?:\/\/(?:[^@/]*@)?[^/]+/, `redis://127.0.0.1:${redisPort}`);
    }
    if (env.DATABASE_HOST !== undefined) {
      env.DATABASE_HOST = pg.host;
      env.DATABASE_PORT = String(pg.port);
    }
    // In a pod both are the pod's name: Celery's default node name is celery@<gethostname()>, and
    // the probe asks for celery@$HOSTNAME.
    env.HOSTNAME = hostname();
    env.PYTHONPATH = code;
    return env;
  }

  async function start(p: Probed, env: Record<string, string>, mounts: Record<string, string>): Promise<Daemon> {
    const { uid, gid } = identity(p.workload, p.c);
    const command = expand(argv(p.c), env).map((a) => mapPaths(a, mounts));
    await standIn(appModule(command), code, env.DJANGO_SETTINGS_MODULE);
    const daemon = startDaemon(command, { uid, gid, env: mapEnv(env, mounts), path: PATH, cwd: code });
    daemons.push(daemon);
    return daemon;
  }

  async function probe(p: Probed, env: Record<string, string>, mounts: Record<string, string>) {
    const { uid, gid } = identity(p.workload, p.c);
    const command = (p.probe.exec.command as string[]).map((a) => mapPaths(a, mounts));
    const started = Date.now();
    // The kubelet gives up after timeoutSeconds; the test waits a little longer to see the end.
    const ran = await runAs(command, { uid, gid, env: mapEnv(env, mounts), path: PATH, deadlineMs: (p.probe.timeoutSeconds ?? 1) * 1000 + 5000, cwd: code });
    return { ...ran, seconds: (Date.now() - started) / 1000 };
  }

  it("a worker's `inspect ping` probe answers within timeoutSeconds while it runs, and fails when it hangs", async (ctx) => {
    const [worker] = probed(objects, /\binspect\s+ping\b/);
    if (!worker) return ctx.skip();
    const env = environment(worker);
    const daemon = await start(worker, env, {});
    // Celery logs "<node> ready." once it consumes (the manifest's --loglevel=INFO shows it).
    for (let i = 0; i < 240 && !/\bready\./.test(daemon.output()); i++) {
      if (daemon.child.exitCode !== null) throw new Error(`the worker exited: ${daemon.output()}`);
      await new Promise((r) => setTimeout(r, 250));
    }
    const ok = await probe(worker, env, {});
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    expect(ok.seconds).toBeLessThan(worker.probe.timeoutSeconds);
    // A hung worker (stopped, not dead): the ping goes unanswered and the probe fails, within the
    // kubelet's timeout, so that the kubelet counts a failure rather than a timeout of its own.
    killSignal(daemon, "SIGSTOP");
    const hung = await probe(worker, env, {});
    killSignal(daemon, "SIGCONT");
    expect(hung.code).not.toBe(0);
    expect(hung.timedOut).toBe(false);
    expect(hung.seconds).toBeLessThan(worker.probe.timeoutSeconds);
    await daemon.stop();
  }, 120_000);

  it("beat's heartbeat probe passes while beat ticks (more often than the probe's window) and fails on a stale heartbeat", async (ctx) => {
    const [beat] = probed(objects, /\bfind\b.*-mmin/);
    if (!beat) return ctx.skip();
    const { uid, gid } = identity(beat.workload, beat.c);
    const env = environment(beat);
    // The role and database the manifest's credentials name, and django-celery-beat's tables (the
    // migration hook creates them in the cluster).
    const created = await pg.psql([`CREATE ROLE "${env.DATABASE_USER}" LOGIN PASSWORD '${env.DATABASE_PASSWORD}'`, `CREATE DATABASE "${env.DATABASE_NAME}" OWNER "${env.DATABASE_USER}"`]);
    expect(created.stderr).toBe("");
    const mounts: Record<string, string> = {};
    for (const m of beat.c.volumeMounts ?? []) {
      mounts[m.mountPath] = await ownedDir(uid, gid, "celery-vol-");
      dirs.push(mounts[m.mountPath]!);
    }
    await standIn(appModule(argv(beat.c)), code, env.DJANGO_SETTINGS_MODULE);
    const migrate = await runAs(["python3", "-m", "django", "migrate", "--noinput", "-v", "0"], { uid, gid, env: { DJANGO_SETTINGS_MODULE: `${appModule(argv(beat.c))}.settings`, ...env }, path: PATH, deadlineMs: 90_000, cwd: code });
    expect(migrate.code, migrate.stderr).toBe(0);

    const heartbeat = mapPaths(env.CELERY_BEAT_HEARTBEAT_FILE ?? "", mounts);
    expect(heartbeat, "the heartbeat file is on a writable volume (the root filesystem is read-only)").not.toBe(env.CELERY_BEAT_HEARTBEAT_FILE);
    const daemon = await start(beat, env, mounts);
    const mtime = async () => (await stat(heartbeat).catch(() => undefined))?.mtimeMs;
    const touches: number[] = [];
    for (let i = 0; i < 120 && touches.length < 3; i++) {
      if (daemon.child.exitCode !== null) throw new Error(`beat exited: ${daemon.output()}`);
      const m = await mtime();
      if (m !== undefined && m !== touches.at(-1)) touches.push(m);
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(touches.length, daemon.output()).toBe(3);
    // The scheduler ticks far more often than the probe's window of 2 minutes (`-mmin -2`):
    // django-celery-beat's DatabaseScheduler wakes at least every 5 s with nothing due.
    expect(touches[2]! - touches[1]!).toBeLessThan(60_000);
    const fresh = await probe(beat, env, mounts);
    expect(fresh.code, fresh.stderr).toBe(0);
    // Hung beat: no more ticks; three minutes later the heartbeat is stale and the probe fails.
    killSignal(daemon, "SIGSTOP");
    const past = new Date(Date.now() - 3 * 60_000);
    await utimes(heartbeat, past, past);
    const stale = await probe(beat, env, mounts);
    killSignal(daemon, "SIGCONT");
    expect(stale.code).not.toBe(0);
    await daemon.stop();
  }, 180_000);
});

/** The container's paths in its environment, as the temp directories that stand for its volumes. */
function mapEnv(env: Record<string, string>, mounts: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, mapPaths(v, mounts)]));
}

function killSignal(daemon: Daemon, signal: NodeJS.Signals): void {
  // The wrapper (setpriv execs; unshare forks) and Celery's pool processes: the whole group.
  const pid = daemon.child.pid!;
  try {
    process.kill(pid, signal);
  } catch {
    // gone
  }
  for (const child of childrenOf(pid)) {
    try {
      process.kill(child, signal);
    } catch {
      // gone
    }
  }
}

function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === pid) out.push(Number(entry), ...childrenOf(Number(entry)));
    } catch {
      // gone
    }
  }
  return out;
}

