// `pnpm check --shard i/n` (issue 12, item 3): CI splits a full check across n jobs. The unit is
// the environment, not the single overlay: the rules relate an environment's overlays to each
// other (what the app reads that the data layer creates, NetworkPolicies across both), so they
// are rendered by the same shard. Environments are dealt round-robin in name order, so the split
// depends only on the set of names (it is the same before the spec is read, when the renders of
// the overlays on disk start, and in every job of the matrix).
//
// Each shard reports the findings of its environments. Findings about no environment (the spec,
// drift, argocd/ files, holds) are the same in every shard: shard 1 reports them, the others
// only those their renders caused (see filterShardFindings). The cross-environment comparisons
// (consistency/resources, consistency/images: "rendered in A but not in B") see the shard's
// environments plus a reference, the first environment of the spec, which every shard renders
// (a cache hit after the first) and whose findings every shard reports: an environment that
// lacks what the reference renders is found in its own shard, and one that renders what the
// reference lacks makes its shard report the reference (when the rule compares the two at all:
// consistency/resources compares data layers only among environments with the same data modes).
// Only an unsharded check compares every pair of environments.
import { UsageError } from "../core/errors.ts";
import type { Finding } from "../rules/types.ts";

export interface Shard {
  /** 1-based. */
  index: number;
  count: number;
}

export function parseShard(value: string): Shard {
  const m = /^([1-9]\d*)\/([1-9]\d*)$/.exec(value);
  const index = Number(m?.[1]);
  const count = Number(m?.[2]);
  if (!m || index > count || count > 1000) throw new UsageError(`--shard takes i/n with 1 <= i <= n (e.g. 2/4), not ${JSON.stringify(value)}`);
  return { index, count };
}

/** The environments shard `shard` owns, of `envs` (any order). */
export function ownedEnvironments(envs: readonly string[], shard: Shard | undefined): Set<string> {
  if (!shard || shard.count === 1) return new Set(envs);
  const sorted = [...envs].sort();
  return new Set(sorted.filter((_, i) => i % shard.count === shard.index - 1));
}

/**
 * What a shard reports of the findings its rules returned: those of the environments it owns or
 * of the reference; of those about no environment, all in shard 1, elsewhere only those that the
 * rules do not also return with no environment rendered at all (`repoWide`).
 */
export function filterShardFindings(findings: Finding[], shard: Shard, owned: ReadonlySet<string>, reference: string | undefined, repoWide: readonly Finding[]): Finding[] {
  const key = (f: Finding) => `${f.rule}\0${f.file}\0${f.path}\0${f.object ?? ""}\0${f.message}`;
  const wide = new Set(repoWide.map(key));
  return findings.filter((f) => (f.env !== undefined ? owned.has(f.env) || f.env === reference : shard.index === 1 || !wide.has(key(f))));
}
