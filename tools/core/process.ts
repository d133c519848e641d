// Spawning programs: always an argument array, never a shell string.
import { spawn } from "node:child_process";
import { ToolError } from "./errors.ts";

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
  /** Killed at `timeoutMs`. */
  timedOut?: boolean;
}

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  input?: string | Buffer;
  /**
   * Kill the program, and every process of its group, after this long: a network program (git
   * push to a server that accepts the connection and never answers) would otherwise wait forever.
   */
  timeoutMs?: number;
}

/** Runs a program to completion, with stdout as raw bytes. */
export function runRaw(command: string, args: string[], options: RunOptions = {}): Promise<{ code: number; stdout: Buffer; stderr: string; timedOut?: boolean }> {
  return new Promise((resolvePromise, reject) => {
    // With a deadline the child leads a process group of its own, so that the helpers it starts
    // (git-remote-https, ssh) are killed with it.
    const bounded = options.timeoutMs !== undefined;
    const child = spawn(command, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: ["pipe", "pipe", "pipe"], detached: bounded });
    let timedOut = false;
    const timer = bounded
      ? setTimeout(() => {
          timedOut = true;
          try {
            process.kill(-child.pid!, "SIGKILL");
          } catch {
            child.kill("SIGKILL");
          }
        }, options.timeoutMs)
      : undefined;
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (b: Buffer) => out.push(b));
    child.stderr.on("data", (b: Buffer) => err.push(b));
    // A program that cannot be started (missing, not executable, built for another platform)
    // is a tool problem with a clear message, not a crash.
    child.on("error", (error: NodeJS.ErrnoException) =>
      reject(new ToolError(`could not run ${command}: ${error.code === "ENOENT" ? "not found" : error.code === "EACCES" ? "permission denied" : error.code === "ENOEXEC" ? "not an executable for this machine" : error.message}`)),
    );
    child.on("close", (code) => {
      if (timer) clearTimeout(timer);
      resolvePromise({ code: code ?? 1, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString("utf8"), ...(timedOut ? { timedOut } : {}) });
    });
    child.stdin.on("error", () => undefined);
    child.stdin.end(options.input ?? "");
  });
}

export async function run(command: string, args: string[], options: RunOptions = {}): Promise<RunResult> {
  const result = await runRaw(command, args, options);
  return { code: result.code, stdout: result.stdout.toString("utf8"), stderr: result.stderr, ...(result.timedOut ? { timedOut: true } : {}) };
}

// Children a command started and no longer waits for (renders of overlays it ended up not
// needing, the other renders of a failed diff) are stopped when the command returns, instead of
// keeping the process alive until they finish. Modules that own such children register here.
const finishers = new Set<() => void>();

export function onCommandFinished(stop: () => void): void {
  finishers.add(stop);
}

/** Called by cli.ts once a command has returned or thrown. */
export function commandFinished(): void {
  for (const stop of finishers) stop();
}
