// One write at a time per repository, and a record of what the write has done so far.
//
// A tag move checks out a new branch, writes a file, stages and commits it: two runs doing that
// in one clone at once mix their edits, and a run killed half-way leaves HEAD on an empty
// deploy branch. So every run that writes takes `<git common dir>/gitops.lock`, created with
// O_EXCL (exactly one run can create it), holding pid, host, command and start time, plus a
// journal of what this run created (branch, from which HEAD, which file). A lock whose process
// is gone (same host, dead pid) is taken over with a notice, and its journal tells the new run
// what to finish or undo (see recoverJournal in apply.ts).
import { rmSync } from "node:fs";
import { open, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { PreconditionError } from "../core/errors.ts";
import { HOST, onInterrupt, pidAlive } from "../core/cleanup.ts";
import { git } from "../git/git.ts";

export interface Journal {
  /** The branch the run started on, and its commit. */
  original: string;
  originalHead: string;
  /** The deploy branch, and what it pointed at before the run ("" when the run created it). */
  branch: string;
  previous: string;
  /** The file the run writes, and the sha256 of what it writes there. */
  file: string;
  newTextSha: string;
}

export interface LockInfo {
  pid: number;
  host: string;
  command: string;
  started: string;
  journal?: Journal;
}

export interface RepositoryLock {
  path: string;
  /** The lock of a dead run this one took over, with its journal (if it had one). */
  takenOver?: LockInfo;
  /** Records (or, with undefined, clears) what this run is doing. */
  journal(journal: Journal | undefined): Promise<void>;
  release(): Promise<void>;
}

export async function lockPath(root: string): Promise<string> {
  const common = (await git(root, ["rev-parse", "--git-common-dir"])).trim();
  return join(resolve(root, common), "gitops.lock");
}

function describe(info: LockInfo, path: string): string {
  return `pid ${info.pid} on ${info.host}, \`${info.command}\`, started ${info.started} (${path})`;
}

async function readLock(path: string): Promise<{ info?: LockInfo; text: string; ageMs: number } | undefined> {
  try {
    const [text, st] = await Promise.all([readFile(path, "utf8"), stat(path)]);
    let info: LockInfo | undefined;
    try {
      const parsed = JSON.parse(text) as LockInfo;
      if (typeof parsed.pid === "number" && typeof parsed.host === "string") info = parsed;
    } catch {
      info = undefined;
    }
    return { info, text, ageMs: Date.now() - st.mtimeMs };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

export async function acquireLock(root: string, command: string, log: (line: string) => void): Promise<RepositoryLock> {
  const path = await lockPath(root);
  const mine: LockInfo = { pid: process.pid, host: HOST, command, started: new Date().toISOString() };
  let takenOver: LockInfo | undefined;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const handle = await open(path, "wx", 0o644);
      try {
        await handle.writeFile(`${JSON.stringify(mine)}\n`);
      } finally {
        await handle.close();
      }
      return held(path, mine, takenOver);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
    const current = await readLock(path);
    if (!current) continue; // released in between: try again
    const { info, text, ageMs } = current;
    // A lock still being written (created, not yet filled) is young; one that never got its
    // content (killed in between) is old. Only a dead process on this host can be judged stale.
    const stale = info ? info.host === HOST && !pidAlive(info.pid) : ageMs > 10_000;
    if (!stale) {
      throw new PreconditionError(
        info
          ? `another run is writing to this repository: ${describe(info, path)}; wait for it to finish (or, if that process is gone, delete the lock file)`
          : `another run is starting to write to this repository (${path}); try again in a moment`,
      );
    }
    // Move the stale lock aside, then check that what moved is what was judged stale (another
    // run may have taken it over in between): only then is it ours to replace.
    const aside = `${path}.stale.${process.pid}`;
    try {
      await rename(path, aside);
    } catch {
      continue;
    }
    const moved = await readFile(aside, "utf8").catch(() => "");
    await rm(aside, { force: true });
    if (moved !== text) throw new PreconditionError(`another run took over the lock ${path} at the same time; try again`);
    takenOver = info;
    log(info ? `notice: took over the lock of a run that is no longer running: ${describe(info, path)}` : `notice: removed an empty lock file left by an interrupted run (${path})`);
  }
  throw new PreconditionError(`could not take the repository lock ${path}; try again`);
}

function held(path: string, info: LockInfo, takenOver: LockInfo | undefined): RepositoryLock {
  let current: LockInfo = info;
  let released = false;
  // Interrupted with nothing half-done: the lock goes (a half-done write keeps it, journal and
  // all, for the next run to finish or undo).
  const unregister = onInterrupt(() => {
    if (released) return;
    released = true;
    if (!current.journal) rmSync(path, { force: true });
    else process.stderr.write(`the repository is half-way through a move on ${current.journal.branch}: run the same command again to finish or undo it\n`);
  });
  return {
    path,
    takenOver,
    async journal(journal) {
      current = { ...info, ...(journal ? { journal } : {}) };
      // Replaced whole (write aside, rename over): a crash leaves the old journal or the new one.
      const aside = `${path}.${process.pid}.new`;
      await writeFile(aside, `${JSON.stringify(current)}\n`);
      await rename(aside, path);
    },
    async release() {
      if (released) return;
      released = true;
      unregister();
      // A journal still open means something could not be undone: the next run sees it.
      if (current.journal) return;
      const now = await readLock(path);
      if (now?.info?.pid === process.pid && now.info.host === HOST) await rm(path, { force: true });
    },
  };
}
