import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { pausePoint, pidAlive } from "./cleanup.ts";

/**
 * Writes a file so that a reader (or a crash) sees either the old content or the new, never
 * half of one: write a sibling temp file, then rename over the target (atomic on one file
 * system). The mode of an existing file is kept.
 */
export async function writeFileAtomic(file: string, content: string): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  const temp = `${file}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
  let mode: number | undefined;
  try {
    mode = (await stat(file)).mode & 0o777;
  } catch {
    mode = undefined;
  }
  try {
    await writeFile(temp, content, { mode: mode ?? 0o644, flag: "wx" });
    await pausePoint("atomic-write");
    await rename(temp, file);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}

/**
 * Removes the temp files writeFileAtomic left beside `file` when its process was killed between
 * writing and renaming (`<name>.<pid>.<hex>.tmp` whose pid is gone). Returns their paths.
 */
export async function removeStaleAtomicTemps(file: string): Promise<string[]> {
  const dir = dirname(file);
  const prefix = `${basename(file)}.`;
  const removed: string[] = [];
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    if (!name.startsWith(prefix)) continue;
    const m = /^(\d+)\.[0-9a-f]{8}\.tmp$/.exec(name.slice(prefix.length));
    if (!m || pidAlive(Number(m[1]))) continue;
    await rm(join(dir, name), { force: true });
    removed.push(join(dir, name));
  }
  return removed;
}

export async function readTextIfExists(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

/**
 * readTextIfExists, synchronously: for many small files read one after the other (generate's plan
 * compares every generated file with the disk), where each asynchronous read costs four round
 * trips through the thread pool (open, fstat, read, close) and the synchronous one a fraction.
 */
export function readTextIfExistsSync(file: string): string | undefined {
  try {
    return readFileSync(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

/**
 * writeFileAtomic, synchronously and without keeping an existing file's mode, for callers that
 * write hundreds of small files in a run (the render cache) where the promise rounds cost more
 * than the write. `dirReady` skips the mkdir once the caller knows the folder exists.
 */
export function writeFileAtomicSync(file: string, content: string, dirReady = false): void {
  if (!dirReady) mkdirSync(dirname(file), { recursive: true });
  const temp = `${file}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
  try {
    writeFileSync(temp, content, { mode: 0o644, flag: "wx" });
    renameSync(temp, file);
  } catch (error) {
    rmSync(temp, { force: true });
    throw error;
  }
}
