// Preloaded into a measured child (node --import): writes its peak resident memory (maxRSS, in
// kilobytes) to $BENCH_MAXRSS_FILE when it exits, however it exits.
import { writeFileSync } from "node:fs";

process.on("exit", () => {
  const file = process.env.BENCH_MAXRSS_FILE;
  if (file) writeFileSync(file, String(process.resourceUsage().maxRSS));
});
