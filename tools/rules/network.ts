// NetworkPolicy rules: the rendered policies evaluated the way Kubernetes does
// (https://kubernetes.io/docs/concepts/services-networking/network-policies/): a pod selected by
// any policy of a direction is isolated in that direction and accepts (sends) only what one of
// those policies' rules allows; a connection needs the sender's egress and the receiver's ingress.
// Then every connection the manifests imply is checked: a pod that names a Service in its
// environment (DATABASE_HOST, REDIS_URL...) must reach that Service's pods on the port it leads
// to, and DNS to find it; the ingress controller must reach every Ingress backend (and
// cert-manager's HTTP-01 solver); a pod that names an outside host with a port must reach it.
import { allObjects, objectId, type Finding, type RenderedEnvironment, type RenderedObject, type Rule, type RuleContext } from "./types.ts";
import { hostPortKeys } from "../spec/model.ts";
import { ingressBackends, serviceTargets } from "./runtime.ts";
import { containerEnv, containersOf, EnvObjects, labelSelectorMatches, podTemplates, type PodTemplate } from "./workloads.ts";
import { stageEnvironments, type StageEnvironments } from "./stage-index.ts";

/** An endpoint of a connection: a pod of the environment, a pod elsewhere in the cluster, or an address outside it. */
export interface Endpoint {
  namespace?: string;
  namespaceLabels: Record<string, string>;
  labels: Record<string, string>;
  ports: { name?: string; containerPort?: number }[];
  external?: boolean;
}

interface Port {
  protocol?: string;
  port?: number | string;
  endPort?: number;
}
interface Peer {
  podSelector?: unknown;
  namespaceSelector?: unknown;
  ipBlock?: { cidr?: string };
}
interface Rule_ {
  from?: Peer[];
  to?: Peer[];
  ports?: Port[];
}
interface PolicySpec {
  podSelector?: unknown;
  policyTypes?: string[];
  ingress?: Rule_[];
  egress?: Rule_[];
}

interface Policy {
  namespace: string;
  spec: PolicySpec;
  /** types(spec), read once. */
  types: string[];
}

function policiesOf(objects: RenderedObject[], namespace: string): Policy[] {
  return objects
    .filter((o) => o.object.kind === "NetworkPolicy")
    .map((o) => {
      const spec = (o.object.spec ?? {}) as PolicySpec;
      return { namespace: o.object.metadata?.namespace ?? namespace, spec, types: types(spec) };
    });
}

/** policyTypes defaults to Ingress, plus Egress when the policy has egress rules. */
function types(spec: PolicySpec): string[] {
  return spec.policyTypes ?? ["Ingress", ...(spec.egress ? ["Egress"] : [])];
}

function selecting(policies: Policy[], pod: Endpoint, direction: "Ingress" | "Egress"): Policy[] {
  if (pod.external) return [];
  return policies.filter((p) => p.namespace === pod.namespace && p.types.includes(direction) && labelSelectorMatches(p.spec.podSelector ?? {}, pod.labels));
}

function peerMatches(peer: Peer, policyNamespace: string, other: Endpoint): boolean {
  // An ipBlock is an address range: it stands for addresses outside the cluster here (pod IPs
  // are not stable enough to be named by CIDR). Any ipBlock counts: host names are not resolved.
  if (peer.ipBlock) return other.external === true;
  if (other.external) return false;
  const namespaceOk = peer.namespaceSelector !== undefined ? labelSelectorMatches(peer.namespaceSelector, other.namespaceLabels) : other.namespace === policyNamespace;
  const podOk = peer.podSelector !== undefined ? labelSelectorMatches(peer.podSelector, other.labels) : true;
  return namespaceOk && podOk;
}

/** A rule's port matches the destination's port; a named port is looked up among the destination's container ports. */
function portMatches(ports: Port[] | undefined, destination: Endpoint, port: number, protocol: string): boolean {
  if (!ports || ports.length === 0) return true;
  return ports.some((p) => {
    if ((p.protocol ?? "TCP") !== protocol) return false;
    if (p.port === undefined) return true;
    if (typeof p.port === "number") return p.endPort !== undefined ? port >= p.port && port <= p.endPort : port === p.port;
    return destination.ports.some((cp) => cp.name === p.port && cp.containerPort === port);
  });
}

function allows(policies: Policy[], direction: "Ingress" | "Egress", self: Endpoint, other: Endpoint, destination: Endpoint, port: number, protocol: string): boolean {
  const selected = selecting(policies, self, direction);
  if (selected.length === 0) return true;
  return selected.some((p) =>
    ((direction === "Ingress" ? p.spec.ingress : p.spec.egress) ?? []).some((rule) => {
      const peers = direction === "Ingress" ? rule.from : rule.to;
      return (!peers || peers.length === 0 || peers.some((peer) => peerMatches(peer, p.namespace, other))) && portMatches(rule.ports, destination, port, protocol);
    }),
  );
}

/** Why a connection is blocked, or undefined when the policies allow it. */
export function blocked(policies: Policy[], from: Endpoint, to: Endpoint, port: number, protocol: string, namespace: string): string | undefined {
  const reasons: string[] = [];
  // Only this environment's namespace is governed by its policies.
  if (from.namespace === namespace && !allows(policies, "Egress", from, to, to, port, protocol)) reasons.push("no policy selecting the sender allows this egress");
  if (to.namespace === namespace && !allows(policies, "Ingress", to, from, to, port, protocol)) reasons.push("no policy selecting the receiver admits this ingress");
  return reasons.length ? reasons.join("; ") : undefined;
}

/**
 * The labels each namespace carries: the name label Kubernetes sets on every namespace (1.22+),
 * and those an Argo CD Application that creates it manages (syncPolicy.managedNamespaceMetadata).
 * Read once per call for every namespace (Applications in order: a later one's label wins).
 */
function namespaceLabelsOf(ctx: RuleContext): (namespace: string) => Record<string, string> {
  const managed = new Map<string | undefined, Record<string, string>>();
  for (const app of ctx.argocd.filter((o) => o.object.kind === "Application")) {
    const spec = (app.object.spec ?? {}) as { destination?: { namespace?: string }; syncPolicy?: { managedNamespaceMetadata?: { labels?: Record<string, string> } } };
    const ns = spec.destination?.namespace;
    if (!managed.has(ns)) managed.set(ns, {});
    Object.assign(managed.get(ns)!, spec.syncPolicy?.managedNamespaceMetadata?.labels ?? {});
  }
  return (namespace) => ({ ...managed.get(namespace), "kubernetes.io/metadata.name": namespace });
}

function podEndpoint(t: PodTemplate, namespace: string, nsLabels: Record<string, string> = { "kubernetes.io/metadata.name": namespace }): Endpoint {
  return {
    namespace,
    namespaceLabels: nsLabels,
    labels: t.labels,
    ports: containersOf(t).flatMap(({ container }) => container.ports ?? []),
  };
}

function clusterEndpoint(pods: { namespace: string; podLabels: Record<string, string> }, ports: Endpoint["ports"] = []): Endpoint {
  return { namespace: pods.namespace, namespaceLabels: { "kubernetes.io/metadata.name": pods.namespace }, labels: pods.podLabels, ports };
}

const EXTERNAL: Endpoint = { namespaceLabels: {}, labels: {}, ports: [], external: true };

/** Host and explicit port of each address-like token of a value (URLs, host:port, bare names). */
export function addresses(value: string): { host: string; port?: number }[] {
  const out: { host: string; port?: number }[] = [];
  for (const token of value.split(/[\s,;]+/).filter(Boolean)) {
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(token)) {
      try {
        const url = new URL(token);
        if (url.hostname) out.push({ host: url.hostname.toLowerCase(), port: url.port ? Number(url.port) : undefined });
      } catch {
        // not a URL after all
      }
      continue;
    }
    const hostPort = /^([a-z0-9]([a-z0-9.-]*[a-z0-9])?):(\d{1,5})$/i.exec(token);
    if (hostPort) out.push({ host: hostPort[1]!.toLowerCase(), port: Number(hostPort[3]) });
    else if (/^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/i.test(token)) out.push({ host: token.toLowerCase() });
  }
  return out;
}

/**
 * The Service a host name means from inside the namespace (short name or a cluster DNS name), if
 * any: host -> the first of the Services it names.
 */
function servicesByHost(services: Set<string>, namespace: string): Map<string, string> {
  const byHost = new Map<string, string>();
  for (const name of services) {
    for (const host of [name, `${name}.${namespace}`, `${name}.${namespace}.svc`, `${name}.${namespace}.svc.cluster.local`]) if (!byHost.has(host)) byHost.set(host, name);
  }
  return byHost;
}

const CERT_MANAGER_ISSUERS = ["cert-manager.io/cluster-issuer", "cert-manager.io/issuer"];
/** cert-manager's HTTP-01 solver pod: its label and the port it listens on (acmesolver's default). */
const ACME_SOLVER = { labels: { "acme.cert-manager.io/http01-solver": "true" }, port: 8089 };

function finding(rule: string, ro: RenderedObject, path: string, message: string): Finding {
  return { rule: `network/${rule}`, file: ro.source, path, message, env: ro.env, object: objectId(ro.object) };
}

function namespaceOf(environments: StageEnvironments, env: RenderedEnvironment): string {
  return environments.get(env.env)?.namespace ?? env.env;
}

/** Every connection the rendered manifests imply is allowed by the rendered NetworkPolicies. */
export const reachabilityRule: Rule = (ctx) => {
  const environments = stageEnvironments(ctx.spec);
  const namespaceLabels = namespaceLabelsOf(ctx);
  const hostPorts = hostPortKeys(ctx.spec);
  // Values repeat across containers and environments: each is parsed once per call.
  const parsed = new Map<string, ReturnType<typeof addresses>>();
  const addressesOf = (value: string) => {
    let found = parsed.get(value);
    if (!found) parsed.set(value, (found = addresses(value)));
    return found;
  };
  return ctx.environments.flatMap((env) => {
    const namespace = namespaceOf(environments, env);
    const objects = allObjects(env);
    const policies = policiesOf(objects, namespace);
    if (policies.length === 0) return [];
    const index = new EnvObjects(objects);
    const nsLabels = namespaceLabels(namespace);
    // One endpoint per pod template, and each connection between two endpoints judged once.
    const endpoints = new Map<PodTemplate, Endpoint>();
    const pod = (t: PodTemplate) => {
      let found = endpoints.get(t);
      if (!found) endpoints.set(t, (found = podEndpoint(t, namespace, nsLabels)));
      return found;
    };
    const verdicts = new Map<Endpoint, Map<Endpoint, Map<string, string | undefined>>>();
    const judge = (from: Endpoint, to: Endpoint, port: number, protocol: string) => {
      let byTo = verdicts.get(from);
      if (!byTo) verdicts.set(from, (byTo = new Map()));
      let byPort = byTo.get(to);
      if (!byPort) byTo.set(to, (byPort = new Map()));
      const key = `${port}/${protocol}`;
      if (byPort.has(key)) return byPort.get(key);
      const why = blocked(policies, from, to, port, protocol, namespace);
      byPort.set(key, why);
      return why;
    };
    const services = new Set(objects.filter((o) => o.object.kind === "Service").map((o) => o.object.metadata?.name ?? ""));
    const serviceNamed = servicesByHost(services, namespace);
    // Where each Service (and port) leads, once per environment.
    const targets = new Map<string, ReturnType<typeof serviceTargets>>();
    const targetsOf = (service: string, port: number | undefined) => {
      const key = `${service}\0${port}`;
      let found = targets.get(key);
      if (!found) targets.set(key, (found = serviceTargets(index, service, port === undefined ? undefined : { number: port })));
      return found;
    };
    const dns = clusterEndpoint(ctx.spec.cluster.dns);
    const controller = clusterEndpoint(ctx.spec.cluster.ingressController);
    const out: Finding[] = [];
    const reported = new Set<string>();
    const report = (key: string, f: Finding) => {
      if (reported.has(key)) return;
      reported.add(key);
      out.push(f);
    };

    for (const t of index.podTemplates()) {
      const self = pod(t);
      let firstReference: string | undefined;
      for (const { container, path } of containersOf(t)) {
        const { vars } = containerEnv(container, path, index);
        for (const v of vars.values()) {
          if (v.value === undefined) continue;
          for (const { host, port: explicit } of addressesOf(v.value)) {
            const portKey = hostPorts.get(v.name);
            const paired = portKey ? Number(vars.get(portKey)?.value) : Number.NaN;
            const port = explicit ?? (Number.isInteger(paired) ? paired : undefined);
            const service = serviceNamed.get(host);
            if (service) {
              firstReference ??= v.path;
              for (const target of targetsOf(service, port)) {
                const why = judge(self, pod(target.t), target.port, target.protocol);
                if (why) {
                  report(
                    `${objectId(t.ro.object)}|${service}|${target.port}`,
                    finding("reachability", t.ro, v.path, `reads Service ${service} (${v.name}), whose pods (${objectId(target.t.ro.object)}) it cannot reach on ${target.port}/${target.protocol}: ${why}`),
                  );
                }
              }
            } else if (host.includes(".") && port !== undefined) {
              firstReference ??= v.path;
              const why = judge(self, EXTERNAL, port, "TCP");
              if (why) report(`${objectId(t.ro.object)}|${host}|${port}`, finding("reachability", t.ro, v.path, `reads ${host}:${port} (${v.name}), outside the cluster, and cannot reach it: ${why}`));
            }
          }
        }
      }
      if (firstReference) {
        for (const protocol of ["UDP", "TCP"]) {
          const why = judge(self, dns, 53, protocol);
          if (why) report(`${objectId(t.ro.object)}|dns|${protocol}`, finding("reachability", t.ro, firstReference, `names a host but cannot ask the cluster DNS (${ctx.spec.cluster.dns.namespace}, ${JSON.stringify(ctx.spec.cluster.dns.podLabels)}) on 53/${protocol}: ${why}`));
        }
      }
    }

    for (const ing of objects.filter((o) => o.object.kind === "Ingress")) {
      for (const backend of ingressBackends(ing)) {
        if (!backend.service) continue;
        for (const target of serviceTargets(index, backend.service, backend.port)) {
          const why = blocked(policies, controller, pod(target.t), target.port, target.protocol, namespace);
          if (why) {
            report(
              `${objectId(ing.object)}|${backend.service}|${target.port}`,
              finding("reachability", ing, backend.path, `the ingress controller (${ctx.spec.cluster.ingressController.namespace}) cannot reach backend Service ${backend.service}'s pods on ${target.port}/${target.protocol}: ${why}`),
            );
          }
        }
      }
      const issuer = CERT_MANAGER_ISSUERS.find((a) => ing.object.metadata?.annotations?.[a] !== undefined);
      if (issuer) {
        // cert-manager's ingress-shim creates the solver pod in this namespace for an HTTP-01 challenge.
        const solver: Endpoint = { namespace, namespaceLabels: nsLabels, labels: ACME_SOLVER.labels, ports: [{ containerPort: ACME_SOLVER.port }] };
        const why = blocked(policies, controller, solver, ACME_SOLVER.port, "TCP", namespace);
        if (why) report(`${objectId(ing.object)}|acme`, finding("reachability", ing, `metadata.annotations["${issuer}"]`, `cert-manager's HTTP-01 solver pod (${JSON.stringify(ACME_SOLVER.labels)}, port ${ACME_SOLVER.port}) cannot be reached by the ingress controller, so the certificate is never issued: ${why}`));
      }
    }
    return out;
  });
};

/** Every pod is isolated in both directions: what is not allowed explicitly is denied. */
export const defaultDenyRule: Rule = (ctx) => {
  const environments = stageEnvironments(ctx.spec);
  return ctx.environments.flatMap((env) => {
    const namespace = namespaceOf(environments, env);
    const objects = allObjects(env);
    const policies = policiesOf(objects, namespace);
    return podTemplates(objects).flatMap((t) => {
      const missing = (["Ingress", "Egress"] as const).filter((d) => selecting(policies, podEndpoint(t, namespace), d).length === 0);
      return missing.length
        ? [finding("default-deny", t.ro, `${t.path.replace(/\.spec$/, "")}.metadata.labels`, `no NetworkPolicy isolates these pods for ${missing.join(" and ")}: anything may ${missing.map((d) => (d === "Ingress" ? "reach them" : "be reached from them")).join(" and ")}; add a default-deny policy (podSelector: {}) for the namespace`)]
        : [];
    });
  });
};

export const networkRules: Record<string, Rule> = {
  "default-deny": defaultDenyRule,
  reachability: reachabilityRule,
};
