// Running a container's own command, taken from the rendered manifests, with real programs on this
// machine. What a kubelet and the image would provide is mapped as plainly as possible and nothing
// else: the container's environment (env, envFrom, configMapKeyRef resolved from the rendered
// ConfigMaps; secretKeyRef values supplied by the test), its uid and gid, its volumes (temp
// directories, ConfigMap files), and the address of the server it talks to.
import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { chmod, chown, mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TOOLS_ROOT } from "../../tools/core/paths.ts";
import { run } from "../../tools/core/process.ts";
import { parseYaml, parseYamlStream, type KubeObject } from "../../tools/core/yaml.ts";
import { render } from "../../tools/render/kustomize.ts";

export type Any = Record<string, any>;

export interface Container {
  name: string;
  image?: string;
  command?: string[];
  args?: string[];
  env?: { name: string; value?: string; valueFrom?: Any }[];
  envFrom?: { configMapRef?: { name: string; optional?: boolean }; secretRef?: { name: string; optional?: boolean }; prefix?: string }[];
  volumeMounts?: { name: string; mountPath: string; subPath?: string }[];
  securityContext?: { runAsUser?: number; runAsGroup?: number };
  readinessProbe?: Any;
  livenessProbe?: Any;
  startupProbe?: Any;
}

/** The rendered objects of one overlay of this repository, through the project's render and parse modules. */
export async function renderOverlay(dir: string, root = TOOLS_ROOT): Promise<KubeObject[]> {
  return parseYamlStream(await render(join(root, dir), { root }), `kustomize build ${dir}`);
}

/**
 * Every environment of the repository's spec, in its order, with what all of its overlays render:
 * overlays/<env> and each overlay directly under it (other layers, clusters), without duplicates.
 * Generic on purpose (test/fixtures/README.md): no environment, layer or object name is assumed.
 */
export async function renderEnvironments(root = TOOLS_ROOT): Promise<Map<string, KubeObject[]>> {
  const spec = parseYaml(readFileSync(join(root, "overlays", "environments.yaml"), "utf8"), "overlays/environments.yaml") as { environments?: Record<string, unknown> };
  const out = new Map<string, KubeObject[]>();
  await Promise.all(
    Object.keys(spec.environments ?? {}).map(async (env) => {
      const dir = join("overlays", env);
      const subs = readdirSync(join(root, dir), { withFileTypes: true })
        .filter((d) => d.isDirectory() && existsSync(join(root, dir, d.name, "kustomization.yaml")))
        .map((d) => join(dir, d.name));
      const seen = new Set<string>();
      const objects: KubeObject[] = [];
      for (const rendered of await Promise.all([dir, ...subs].map((d) => renderOverlay(d, root)))) {
        for (const o of rendered) {
          const key = `${o.apiVersion}/${o.kind}/${o.metadata?.namespace ?? ""}/${o.metadata?.name ?? ""}`;
          if (!seen.has(key)) objects.push(o);
          seen.add(key);
        }
      }
      out.set(env, objects);
    }),
  );
  return new Map(Object.keys(spec.environments ?? {}).map((env) => [env, out.get(env)!]));
}

/** Every container (init containers first) of every workload, with its workload. */
export function containersOf(objects: KubeObject[]): { workload: KubeObject; c: Container }[] {
  return objects.flatMap((workload) => {
    const pod = workload.spec ? podSpec(workload) : undefined;
    if (!pod) return [];
    return [...(pod.initContainers ?? []), ...(pod.containers ?? [])].map((c: Container) => ({ workload, c }));
  });
}

/** Does the container's own command (command + args, not its probes) mention `program`? */
export function runs(c: Container, program: string): boolean {
  const words = [...(c.command ?? []), ...(c.args ?? [])].join(" ").split(/[\s'"`;&|()=]+/);
  return words.some((w) => w === program || w.endsWith(`/${program}`));
}

/**
 * Secret values for every secretKeyRef the objects make ("<secret>/<key>"), by what the key holds:
 * a user name, a password, or anything else.
 */
export function testSecrets(objects: KubeObject[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const { c } of containersOf(objects)) {
    for (const e of c.env ?? []) {
      const ref = e.valueFrom?.secretKeyRef as { name: string; key: string } | undefined;
      if (!ref) continue;
      out[`${ref.name}/${ref.key}`] = /user/i.test(ref.key) ? TEST_DB_USER : /pass/i.test(ref.key) ? TEST_DB_PASSWORD : "not-a-real-value";
    }
  }
  return out;
}
export const TEST_DB_USER = "app_user";
export const TEST_DB_PASSWORD = "s3cret-for-tests";

export function find(objects: KubeObject[], kind: string, name: string): KubeObject {
  const found = objects.find((o) => o.kind === kind && o.metadata?.name === name);
  if (!found) throw new Error(`no ${kind}/${name} rendered`);
  return found;
}

export function podSpec(workload: KubeObject): Any {
  const spec = workload.spec as Any;
  return (spec.jobTemplate?.spec?.template?.spec ?? spec.template?.spec) as Any;
}

export function container(workload: KubeObject, name: string): Container {
  const pod = podSpec(workload);
  const found = [...(pod.initContainers ?? []), ...(pod.containers ?? [])].find((c: Container) => c.name === name) as Container | undefined;
  if (!found) throw new Error(`${workload.kind}/${workload.metadata?.name} has no container ${name}`);
  return found;
}

/** runAsUser/runAsGroup as Kubernetes applies them: the container's securityContext over the pod's. */
export function identity(workload: KubeObject, c: Container): { uid: number; gid: number } {
  const pod = podSpec(workload).securityContext ?? {};
  const uid = c.securityContext?.runAsUser ?? pod.runAsUser;
  const gid = c.securityContext?.runAsGroup ?? pod.runAsGroup ?? uid;
  if (typeof uid !== "number") throw new Error(`${c.name}: no runAsUser in the manifest`);
  return { uid, gid };
}

/**
 * The container's environment as the kubelet builds it: envFrom first, then env (which wins),
 * ConfigMaps looked up among the rendered objects; `secrets` supplies "<secret>/<key>" values.
 */
export function containerEnv(c: Container, objects: KubeObject[], secrets: Record<string, string>): Record<string, string> {
  const configMap = (name: string) => find(objects, "ConfigMap", name).data as Record<string, string>;
  const secret = (name: string, key: string) => {
    const value = secrets[`${name}/${key}`];
    if (value === undefined) throw new Error(`${c.name} reads secret ${name}/${key}, which the test did not supply`);
    return value;
  };
  const env: Record<string, string> = {};
  for (const from of c.envFrom ?? []) {
    if (from.configMapRef) for (const [k, v] of Object.entries(configMap(from.configMapRef.name))) env[`${from.prefix ?? ""}${k}`] = v;
    if (from.secretRef) {
      for (const [key, value] of Object.entries(secrets)) {
        const [name, k] = key.split("/");
        if (name === from.secretRef.name) env[`${from.prefix ?? ""}${k}`] = value;
      }
    }
  }
  for (const e of c.env ?? []) {
    if (e.value !== undefined) env[e.name] = e.value.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (m, n: string) => env[n] ?? m);
    else if (e.valueFrom?.configMapKeyRef) env[e.name] = configMap(e.valueFrom.configMapKeyRef.name)[e.valueFrom.configMapKeyRef.key]!;
    else if (e.valueFrom?.secretKeyRef) env[e.name] = secret(e.valueFrom.secretKeyRef.name, e.valueFrom.secretKeyRef.key);
    else throw new Error(`${c.name}: env ${e.name} has a source the test does not resolve: ${JSON.stringify(e.valueFrom)}`);
  }
  return env;
}

/** argv as the container runtime builds it: command (or the image's entrypoint) followed by args. */
export function argv(c: Container, entrypoint: string[] = []): string[] {
  const out = [...(c.command ?? entrypoint), ...(c.args ?? [])];
  if (out.length === 0) throw new Error(`${c.name}: no command, no args and no entrypoint given`);
  return out;
}

/** Replaces the container's mount paths in a string by the temp directories that stand for them. */
export function mapPaths(text: string, mounts: Record<string, string>): string {
  // One pass, longest path first, whole path components only: a replacement is never rewritten.
  const froms = Object.keys(mounts).sort((a, b) => b.length - a.length);
  if (froms.length === 0) return text;
  const pattern = new RegExp(`(${froms.map((f) => f.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("|")})(?=$|[/"'\\s;])`, "g");
  return text.replace(pattern, (from) => mounts[from]!);
}

export const isLinux = process.platform === "linux";
export const isRoot = process.getuid?.() === 0;
export const PG_BIN = "/usr/lib/postgresql/15/bin";

/** Does this machine have a passwd entry for the uid (through NSS, as libpq's getpwuid sees it)? */
export async function hasPasswdEntry(uid: number): Promise<boolean> {
  return (await run("getent", ["passwd", String(uid)])).code === 0;
}

/**
 * The uid to run a client as so that it behaves as in the image: the manifest's uid when this
 * machine has no passwd entry for it either, otherwise the first uid from 20000 up without one.
 * (These machines map uid 1000 to a user; the postgres images map only 70 or 999.)
 */
export async function uidWithoutEntry(preferred: number): Promise<number> {
  if (!(await hasPasswdEntry(preferred))) return preferred;
  for (let uid = 20000; uid < 60000; uid++) if (!(await hasPasswdEntry(uid))) return uid;
  throw new Error("no free uid between 20000 and 60000");
}

export interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
  /** Killed by the test's deadline (a loop that never ends on its own). */
  timedOut: boolean;
}

/**
 * Runs argv as uid:gid with no supplementary groups and exactly `env` (plus PATH and HOME as a
 * container runtime sets them), killing the whole process group at the deadline. As root:
 * setpriv. Otherwise: a user namespace that maps the caller to uid:gid (util-linux unshare).
 */
export function runAs(command: string[], opts: { uid: number; gid: number; env: Record<string, string>; path: string; deadlineMs: number; cwd?: string }): Promise<Ran> {
  const wrapper = isRoot
    ? ["setpriv", `--reuid=${opts.uid}`, `--regid=${opts.gid}`, "--clear-groups", "--"]
    : ["unshare", "--user", `--map-user=${opts.uid}`, `--map-group=${opts.gid}`, "--"];
  const full = [...wrapper, ...command];
  return new Promise((resolve, reject) => {
    const child = spawn(full[0]!, full.slice(1), {
      env: { PATH: opts.path, HOME: "/", ...opts.env },
      cwd: opts.cwd ?? "/",
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    let timedOut = false;
    child.stdout.on("data", (b: Buffer) => (stdout += b.toString()));
    child.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
    const timer = setTimeout(() => {
      timedOut = true;
      killSession(child.pid!);
    }, opts.deadlineMs);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, timedOut });
    });
  });
}

/**
 * Kills every process of the session the child leads (spawn's `detached` makes it a session
 * leader). A process group is not enough: GNU timeout moves itself into a group of its own.
 */
export function killSession(sid: number): void {
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, "utf8");
    } catch {
      continue;
    }
    // pid (comm) state ppid pgrp session ...: comm may hold spaces, so split after its ")".
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (Number(fields[3]) === sid) {
      try {
        process.kill(Number(entry), "SIGKILL");
      } catch {
        // already gone
      }
    }
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}

/** A temp directory owned by uid:gid (mode 0700 unless given), standing for a volume or a server's home. */
export async function ownedDir(uid: number, gid: number, prefix: string, mode = 0o700): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  if (isRoot) await chown(dir, uid, gid);
  await chmod(dir, mode);
  return dir;
}

/** A directory of small executables placed first on PATH. */
export async function shimDir(shims: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "repo-test-shim-"));
  await chmod(dir, 0o755);
  for (const [name, script] of Object.entries(shims)) {
    await writeFile(join(dir, name), script, { mode: 0o755 });
  }
  return dir;
}

export async function ensureDir(path: string): Promise<void> {
  await mkdir(path, { recursive: true });
}
