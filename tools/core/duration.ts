// Durations as people write them in the spec and on the command line: "90m", "24h", "2d",
// "1d12h". Go's time.ParseDuration (what Argo CD's sync windows use) has no days; a soak time
// is naturally said in days, so "d" (24 hours, not a calendar day) is accepted too.

const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 };

/** Milliseconds of "2d", "1h30m", ...; undefined when the text is not a duration. */
export function parseDuration(text: string): number | undefined {
  const trimmed = text.trim();
  if (!/^(\d+[smhdw])+$/.test(trimmed)) return undefined;
  let total = 0;
  for (const [, n, unit] of trimmed.matchAll(/(\d+)([smhdw])/g)) total += Number(n) * UNITS[unit!]!;
  return total;
}

export const DURATION_HINT = 'a duration such as "30m", "24h", "2d" or "1d12h" (units s, m, h, d, w)';

/** "1d 3h 20m" for a remaining time; minutes are the finest unit shown (seconds below a minute). */
export function formatDuration(ms: number): string {
  if (ms < 60_000) return `${Math.max(0, Math.ceil(ms / 1000))}s`;
  let minutes = Math.ceil(ms / 60_000);
  const days = Math.floor(minutes / 1440);
  minutes -= days * 1440;
  const hours = Math.floor(minutes / 60);
  minutes -= hours * 60;
  return [days ? `${days}d` : "", hours ? `${hours}h` : "", minutes ? `${minutes}m` : ""].filter(Boolean).join(" ") || "0m";
}
