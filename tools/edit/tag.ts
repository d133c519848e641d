// Image tag and digest grammar (OCI distribution spec) and semver ordering.

/** OCI distribution spec: [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}. */
export const OCI_TAG = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;
export const DIGEST = /^sha256:[a-f0-9]{64}$/;

export function tagProblem(tag: string): string | undefined {
  if (tag === "") return "the tag is empty";
  if (tag.length > 128) return `the tag is ${tag.length} characters long; at most 128 are allowed`;
  if (/^[.-]/.test(tag)) return `the tag may not start with "${tag[0]}"`;
  if (!OCI_TAG.test(tag)) {
    const bad = [...new Set([...tag].filter((c) => !/[A-Za-z0-9_.-]/.test(c)))].map((c) => (/\s/.test(c) ? `white space ${JSON.stringify(c)}` : JSON.stringify(c))).join(", ");
    return `the tag may contain only letters, digits, '_', '.' and '-' (OCI tag grammar); found ${bad}`;
  }
  if (tag === "latest") return 'the mutable tag "latest" cannot be deployed reproducibly: use a version';
  return undefined;
}

export function digestProblem(digest: string): string | undefined {
  if (!digest.startsWith("sha256:")) return "a digest must start with sha256:";
  const hex = digest.slice(7);
  if (hex.length !== 64) return `a sha256 digest has 64 hex characters after "sha256:"; got ${hex.length}`;
  if (/[A-F]/.test(hex)) return "a sha256 digest is written in lower-case hex";
  if (!DIGEST.test(digest)) return "a sha256 digest has only hex characters (0-9, a-f)";
  return undefined;
}

const SEMVER = /^v?(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$/;
/** `v1.2`, `1.2`, `v1`: the usual short forms of a release, read with the missing parts as 0 (a bare `1234` is a build number, not a version). */
const PARTIAL = /^(?:v(\d+)(?:\.(\d+))?|(\d+)\.(\d+))(?:-([0-9A-Za-z.-]+))?$/;

export function parseSemver(tag: string): { major: number; minor: number; patch: number; pre: string[] } | undefined {
  const m = SEMVER.exec(tag);
  if (m) return { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3]), pre: m[4] ? m[4].split(".") : [] };
  // `v1.9.0 → v1.2` is as much a downgrade as `v1.9.0 → v1.2.0`.
  const p = PARTIAL.exec(tag);
  if (!p) return undefined;
  return { major: Number(p[1] ?? p[3]), minor: Number(p[2] ?? p[4] ?? 0), patch: 0, pre: p[5] ? p[5].split(".") : [] };
}

/** Negative when a < b, 0 when equal, positive when a > b; undefined when either is not semver. */
export function compareSemver(a: string, b: string): number | undefined {
  const x = parseSemver(a);
  const y = parseSemver(b);
  if (!x || !y) return undefined;
  const core = x.major - y.major || x.minor - y.minor || x.patch - y.patch;
  if (core) return Math.sign(core);
  if (!x.pre.length || !y.pre.length) return x.pre.length === y.pre.length ? 0 : x.pre.length ? -1 : 1;
  for (let i = 0; i < Math.max(x.pre.length, y.pre.length); i++) {
    const p = x.pre[i];
    const q = y.pre[i];
    if (p === undefined) return -1;
    if (q === undefined) return 1;
    const pn = /^\d+$/.test(p);
    const qn = /^\d+$/.test(q);
    if (pn && qn && Number(p) !== Number(q)) return Math.sign(Number(p) - Number(q));
    if (pn !== qn) return pn ? -1 : 1;
    if (p !== q) return p < q ? -1 : 1;
  }
  return 0;
}
