// Secrets in one place: where the GitHub token comes from, and how any text is cleaned of it
// before it reaches output, a log or an error.

/** GITHUB_TOKEN (Actions' convention), else GH_TOKEN (the gh CLI's); undefined when neither is set. */
export function githubToken(env: NodeJS.ProcessEnv): string | undefined {
  return env.GITHUB_TOKEN || env.GH_TOKEN || undefined;
}

/**
 * Replaces every occurrence of each secret with ***, longest first so overlaps cannot leak, and
 * any credentials embedded in URLs (https://user:token@host).
 */
export function redact(text: string, secrets: readonly string[] = []): string {
  const sorted = secrets.filter((s) => s.length > 0).sort((a, b) => b.length - a.length);
  const out = sorted.reduce((acc, secret) => acc.split(secret).join("***"), text);
  return out.replace(/(https?:\/\/)[^/@\s]+@/g, "$1***@");
}
