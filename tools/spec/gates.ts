// The promotion gates an environment declares (`environments.<env>.gates` in the spec): how long a
// tag must have run in the previous stage, which checks must be green on the commit that put it
// there, and freeze windows during which nothing is promoted into the environment.
//
// Freeze windows copy the shape of Argo CD's sync windows (schedule, duration, timeZone;
// pkg/apis/application/v1alpha1/types.go SyncWindow.active): a window opens at every time the
// five-field cron schedule matches, in its time zone, and stays open for `duration`. The cron
// arithmetic (day-of-week/day-of-month rules, daylight-saving gaps in a time zone) comes from
// `croner`: maintained, no dependencies, IANA time zones through Intl, and a `nextRun(after)`
// that is exactly Argo CD's `schedule.Next(...)`; cron-parser would bring luxon along.
import { Cron } from "croner";
import { z } from "zod";
import { DURATION_HINT, parseDuration } from "../core/duration.ts";

export const durationSchema = z.string().refine((s) => parseDuration(s) !== undefined, { error: (issue) => `${JSON.stringify(issue.input)} is not ${DURATION_HINT}` });

// A spec of many environments repeats the same few windows; each check below costs a time zone
// lookup (and croner a run of its calendar arithmetic), the answer a function of the strings alone.
const zoneProblems = new Map<string, string | undefined>();
const scheduleProblems = new Map<string, string | undefined>();

function timeZoneProblem(zone: string): string | undefined {
  if (zoneProblems.has(zone)) return zoneProblems.get(zone);
  let problem: string | undefined;
  try {
    new Intl.DateTimeFormat("en", { timeZone: zone });
  } catch {
    problem = `${JSON.stringify(zone)} is not an IANA time zone (e.g. UTC, Europe/Berlin, America/New_York)`;
  }
  zoneProblems.set(zone, problem);
  return problem;
}

function scheduleProblem(schedule: string, timeZone: string): string | undefined {
  const key = JSON.stringify([schedule, timeZone]);
  if (!scheduleProblems.has(key)) scheduleProblems.set(key, parseSchedule(schedule, timeZone).problem);
  return scheduleProblems.get(key);
}

/** A parsed schedule, or why it is not one (five fields, as Argo CD's sync windows). */
export function parseSchedule(schedule: string, timeZone: string): { cron?: Cron; problem?: string } {
  const fields = schedule.trim().split(/\s+/);
  if (fields.length !== 5) return { problem: `${JSON.stringify(schedule)} must be a cron schedule of five fields (minute hour day-of-month month day-of-week), e.g. "0 17 * * 5"` };
  let cron: Cron;
  try {
    cron = new Cron(schedule, { timezone: timeZone, paused: true });
  } catch (error) {
    return { problem: `${JSON.stringify(schedule)} is not a cron schedule: ${(error as Error).message.replace(/^CronPattern: /, "")}` };
  }
  if (cron.nextRun(new Date(0)) === null) return { problem: `${JSON.stringify(schedule)} never matches a date` };
  return { cron };
}

const windowSchema = z
  .strictObject({
    /** Shown in refusals and the pull-request body. */
    name: z.string().min(1).optional(),
    /** When the window opens: a five-field cron schedule in `timeZone`. */
    schedule: z.string(),
    /** How long it stays open after each opening. */
    duration: durationSchema,
    timeZone: z.string().default("UTC"),
  })
  .superRefine((w, ctx) => {
    const zone = timeZoneProblem(w.timeZone);
    if (zone) ctx.addIssue({ code: "custom", path: ["timeZone"], message: zone });
    else {
      const problem = scheduleProblem(w.schedule, w.timeZone);
      if (problem) ctx.addIssue({ code: "custom", path: ["schedule"], message: problem });
    }
  });

export const gatesSchema = z.strictObject({
  /** How long the tag must have run in the previous stage, from the commit that put it there on the default branch. */
  soak: durationSchema.optional(),
  /** Names of the commit statuses (context) or check runs that must be green on that commit. */
  checks: z.array(z.string().min(1)).default([]),
  /** Freeze windows: promotions into the environment are refused while one is open. */
  windows: z.array(windowSchema).default([]),
});

export type Gates = z.infer<typeof gatesSchema>;
export type FreezeWindow = z.infer<typeof windowSchema>;

/** The window's opening that covers `now` and when it closes, or undefined when it is closed. */
export function openWindow(window: FreezeWindow, now: Date): { opened: Date; closes: Date } | undefined {
  const { cron } = parseSchedule(window.schedule, window.timeZone);
  const length = parseDuration(window.duration);
  if (!cron || length === undefined) return undefined;
  // Argo CD's test: the first opening after (now - duration) is before now. Later openings that
  // also cover now (a window longer than its period) extend it.
  let opening = cron.nextRun(new Date(now.getTime() - length));
  let found: { opened: Date; closes: Date } | undefined;
  while (opening && opening.getTime() <= now.getTime()) {
    found = { opened: found?.opened ?? opening, closes: new Date(opening.getTime() + length) };
    opening = cron.nextRun(opening);
  }
  return found;
}
