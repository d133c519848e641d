// Preloaded into a measured child (node --import): writes its peak resident memory (maxRSS, in
// kilobytes) and its own CPU time (user + system, in milliseconds, its children excluded) to
// $BENCH_MAXRSS_FILE when it exits, however it exits: "<kilobytes> <cpu ms>".
import { writeFileSync } from "node:fs";

process.on("exit", () => {
  const file = process.env.BENCH_MAXRSS_FILE;
  if (!file) return;
  const usage = process.resourceUsage();
  writeFileSync(file, `${usage.maxRSS} ${Math.round((usage.userCPUTime + usage.systemCPUTime) / 1000)}`);
});
