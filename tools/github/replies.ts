// What we read from GitHub's answers, checked before it is used: a 200 with a garbled body
// (a proxy's HTML page, a truncated JSON) must be an error before anything is committed, not an
// `undefined` that travels into a commit, a push and a failed pull-request call.
import { z } from "zod";
import { GitHubError } from "../core/errors.ts";

export const repositoryReply = z.object({ default_branch: z.string().min(1) });
export const pullReply = z.object({
  number: z.number().int().positive(),
  html_url: z.string().min(1),
  state: z.string().optional(),
  head: z.object({ ref: z.string(), label: z.string(), sha: z.string().optional() }).optional(),
});
export const pullListReply = z.array(pullReply);

/** `data` as `schema` describes it, or a one-line GitHubError naming the request and the first problem. */
export function checkReply<T>(schema: z.ZodType<T>, data: unknown, what: string): T {
  const parsed = schema.safeParse(data);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const where = issue?.path.length ? issue.path.join(".") : "the body";
  const got = typeof data === "string" ? `text that is not JSON (${JSON.stringify(data.slice(0, 40))})` : `${where}: ${issue?.message ?? "unexpected shape"}`;
  return fail(`GitHub's answer to ${what} is not what GitHub documents (${got}); a proxy or a GitHub outage may be in the way: try again later`);
}

function fail(message: string): never {
  throw new GitHubError(message);
}
