// What an interrupted run leaves behind, and how the next one gets rid of it. Temp directories
// carry the pid of the process that made them (`gitops-plan-<pid>-XXXXXX`): they are removed on
// exit, on SIGINT and on SIGTERM, and a later run removes those whose process is gone (SIGKILL
// leaves no chance to clean up). Nothing here touches the repository.
import { rmSync } from "node:fs";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";

const tasks = new Set<() => void>();
let installed = false;

/** True when a process with this pid exists on this machine (EPERM: it exists, owned by someone else). */
export function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

export const HOST = hostname();

/**
 * Runs `task` (synchronous: it may run inside a signal handler) when the process is interrupted
 * by SIGINT or SIGTERM, or exits. Returns a function that unregisters it.
 */
export function onInterrupt(task: () => void): () => void {
  install();
  tasks.add(task);
  return () => void tasks.delete(task);
}

function runTasks(): void {
  for (const task of [...tasks]) {
    tasks.delete(task);
    try {
      task();
    } catch {
      // Best effort: an interrupted run must still exit.
    }
  }
}

function install(): void {
  if (installed) return;
  installed = true;
  process.on("exit", runTasks);
  for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143]] as const) {
    process.on(signal, () => {
      runTasks();
      process.stderr.write(`interrupted (${signal})\n`);
      process.exit(code);
    });
  }
}

const TEMP_NAME = /^gitops-(plan|rev)-(\d+)-/;
let staleSwept = false;

/** A temp directory `<tmp>/gitops-<purpose>-<pid>-XXXXXX`, removed on exit and on interruption. */
export async function makeTempDir(purpose: "plan" | "rev"): Promise<{ path: string; remove: () => Promise<void> }> {
  if (!staleSwept) {
    staleSwept = true;
    await removeStaleTempDirs();
  }
  const path = await mkdtemp(join(tmpdir(), `gitops-${purpose}-${process.pid}-`));
  const unregister = onInterrupt(() => rmSync(path, { recursive: true, force: true }));
  return {
    path,
    remove: async () => {
      unregister();
      await rm(path, { recursive: true, force: true });
    },
  };
}

/** Removes temp directories of earlier runs whose process is gone. Returns the names removed. */
export async function removeStaleTempDirs(dir = tmpdir()): Promise<string[]> {
  const removed: string[] = [];
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    const m = TEMP_NAME.exec(name);
    if (!m || pidAlive(Number(m[2]))) continue;
    await rm(join(dir, name), { recursive: true, force: true });
    removed.push(name);
  }
  return removed;
}

/**
 * Test hook, and only that: with GITOPS_TEST_PAUSE=<point> the process prints
 * "paused at <point>" on stderr and waits forever at that point, so a test can kill it there
 * (SIGKILL, SIGINT) and check what the next run makes of it. Unset, it does nothing.
 */
export async function pausePoint(point: string): Promise<void> {
  if (process.env.GITOPS_TEST_PAUSE !== point) return;
  process.stderr.write(`paused at ${point}\n`);
  await new Promise(() => setInterval(() => undefined, 60_000));
}

