// Hosts: an environment serves only the hosts the spec declares for it. An overlay that patches
// one Ingress rule but not another (or not the TLS list) would otherwise serve, and request a
// certificate for, another environment's host, and render without a word.
import type { Environment } from "../spec/schema.ts";
import { declaredHosts as specDeclaredHosts } from "../spec/model.ts";
import { allObjects, objectId, type Finding, type Rule } from "./types.ts";
import { stageEnvironments } from "./stage-index.ts";

/**
 * The hosts an environment declares: its `host`, and this environment's side of every `hosts`
 * entry (base host -> its host). A declared `*.example.com` covers exactly one more label, as an
 * Ingress wildcard does.
 */
export function declaredHosts(env: Environment): string[] {
  return specDeclaredHosts(env);
}

export function hostDeclared(host: string, declared: readonly string[]): boolean {
  const h = host.toLowerCase();
  return declared.some((d) => {
    const x = d.toLowerCase();
    if (x === h) return true;
    // A declared wildcard covers one label; a rendered wildcard must be declared as such.
    return x.startsWith("*.") && !h.startsWith("*.") && h.slice(h.indexOf(".")) === x.slice(1) && h.indexOf(".") > 0;
  });
}

/** Every host an Ingress names, with its field path. */
export function ingressHosts(spec: unknown): { host: string; path: string }[] {
  const s = (spec ?? {}) as { rules?: { host?: string }[]; tls?: { hosts?: string[] }[] };
  const out: { host: string; path: string }[] = [];
  (s.rules ?? []).forEach((r, i) => {
    if (typeof r?.host === "string") out.push({ host: r.host, path: `spec.rules[${i}].host` });
  });
  (s.tls ?? []).forEach((t, i) => (t?.hosts ?? []).forEach((h, j) => typeof h === "string" && out.push({ host: h, path: `spec.tls[${i}].hosts[${j}]` })));
  return out;
}

export const declaredHostsRule: Rule = (ctx) => {
  const owners = Object.entries(ctx.spec.environments).map(([name, env]) => ({ name, hosts: declaredHosts(env) }));
  const environments = stageEnvironments(ctx.spec);
  return ctx.environments.flatMap((env) => {
    const envSpec = environments.get(env.env);
    if (!envSpec) return [];
    const declared = declaredHosts(envSpec);
    return allObjects(env)
      .filter((ro) => ro.object.kind === "Ingress")
      .flatMap((ro) =>
        ingressHosts(ro.object.spec)
          .filter(({ host }) => !hostDeclared(host, declared))
          .map(({ host, path }): Finding => {
            const owner = owners.find((o) => o.name !== env.env && hostDeclared(host, o.hosts));
            return {
              rule: "hosts/declared",
              file: ro.source,
              path,
              env: env.env,
              object: objectId(ro.object),
              message: `${host} is not a host of ${env.env} (${declared.join(", ") || "none declared"})${owner ? `: it is ${owner.name}'s` : ""}; an overlay must set every rule and TLS host of its Ingresses`,
            };
          }),
      );
  });
};

/**
 * One host, one environment. DNS sends a host to one load balancer: a second environment that
 * serves it never gets its traffic, cert-manager's HTTP-01 challenge for it fails there, and where
 * both sit behind one ingress-nginx (it merges every Ingress rule of a host into one server) the
 * requests go to either environment's pods. The spec refuses one host declared twice; this sees
 * what reaches the rendered Ingresses otherwise (a base host no environment rewrites, an extras
 * patch or resource of the escape hatch).
 */
export const sharedHostsRule: Rule = (ctx) => {
  const servedBy = new Map<string, string[]>();
  for (const env of ctx.environments) {
    for (const ro of allObjects(env).filter((o) => o.object.kind === "Ingress")) {
      for (const { host } of ingressHosts(ro.object.spec)) {
        const envs = servedBy.get(host.toLowerCase()) ?? [];
        if (!envs.includes(env.env)) envs.push(env.env);
        servedBy.set(host.toLowerCase(), envs);
      }
    }
  }
  return ctx.environments.flatMap((env) =>
    allObjects(env)
      .filter((ro) => ro.object.kind === "Ingress")
      .flatMap((ro) => {
        const seen = new Set<string>();
        return ingressHosts(ro.object.spec).flatMap(({ host, path }): Finding[] => {
          const others = (servedBy.get(host.toLowerCase()) ?? []).filter((e) => e !== env.env);
          if (others.length === 0 || seen.has(host.toLowerCase())) return [];
          seen.add(host.toLowerCase());
          return [
            {
              rule: "hosts/shared",
              file: ro.source,
              path,
              env: env.env,
              object: objectId(ro.object),
              message: `${host} is also served by ${others.join(", ")}: DNS sends a host to one environment, so give each environment hosts of its own`,
            },
          ];
        });
      }),
  );
};

export const hostRules: Record<string, Rule> = {
  declared: declaredHostsRule,
  shared: sharedHostsRule,
};
