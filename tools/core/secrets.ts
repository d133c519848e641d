// Secrets in one place: where the GitHub token comes from, and how any text is cleaned of it
// before it reaches output, a log or an error.

/** GITHUB_TOKEN (Actions' convention), else GH_TOKEN (the gh CLI's); undefined when neither is set. */
export function githubToken(env: NodeJS.ProcessEnv): string | undefined {
  return env.GITHUB_TOKEN || env.GH_TOKEN || undefined;
}

/**
 * Every form in which a token can show up in text: as is, URL-encoded, base64 on its own, and the
 * base64 of `x-access-token:<token>` that git sends as HTTP basic auth (GIT_CURL_VERBOSE or
 * GIT_TRACE_CURL print that header; GIT_TRACE_REDACT=0 turns git's own masking off).
 */
export function secretForms(secret: string): string[] {
  if (!secret) return [];
  const b64 = (text: string) => Buffer.from(text).toString("base64");
  const forms = [secret, encodeURIComponent(secret), b64(secret), b64(`x-access-token:${secret}`)];
  // Without padding too (some tools strip it).
  return [...new Set([...forms, ...forms.map((f) => f.replace(/=+$/, ""))])].filter((f) => f.length >= 4);
}

/**
 * Replaces every occurrence of each secret, in each of its encoded forms, with ***, longest
 * first so overlaps cannot leak, and any credentials embedded in URLs (https://user:token@host).
 */
export function redact(text: string, secrets: readonly string[] = []): string {
  const sorted = secrets.flatMap(secretForms).sort((a, b) => b.length - a.length);
  const out = sorted.reduce((acc, secret) => acc.split(secret).join("***"), text);
  return out.replace(/(https?:\/\/)[^/@\s]+@/g, "$1***@");
}
