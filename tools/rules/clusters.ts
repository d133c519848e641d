// Rules for environments on several clusters (issue 12): every Application deploys to its own
// cluster and namespace, no two stages share one, and the project admits exactly those
// destinations. Argo CD checks a destination against the project by the resolved cluster's name
// or server and a glob on each field (argo-cd pkg/apis/application/v1alpha1/app_project_types.go
// isDestinationMatched): a pattern there lets any Application of the project, edited in the UI or
// by a bad merge, deploy into another cluster's namespace.
import { clusterOf, stages, type Stage } from "../spec/stages.ts";
import { objectId, type Finding, type RenderedObject, type Rule, type RuleContext } from "./types.ts";

interface Destination {
  server?: string;
  name?: string;
  namespace?: string;
}

function finding(rule: string, ro: RenderedObject, path: string, message: string, env?: string): Finding {
  return { rule: `clusters/${rule}`, file: ro.source, path, message, env, object: objectId(ro.object) };
}

function isApplication(ro: RenderedObject): boolean {
  return ro.object.kind === "Application" && (ro.object.apiVersion ?? "").startsWith("argoproj.io/");
}

function sourcePath(ro: RenderedObject): string {
  return String((ro.object.spec as { source?: { path?: string } } | undefined)?.source?.path ?? "").replace(/^\.\/|\/+$/g, "");
}

function destinationOf(ro: RenderedObject): Destination {
  return ((ro.object.spec as { destination?: Destination } | undefined)?.destination ?? {}) as Destination;
}

/** Argo CD's built-in name of the cluster it runs in (argo-cd common.KubernetesInternalAPIServerAddr / InClusterName). */
const IN_CLUSTER = { server: "https://kubernetes.default.svc", name: "in-cluster" };

/** One key per cluster as far as the manifests can tell (a trailing slash is the same server: GetDestinationServer trims it). */
function clusterKey(d: Destination): string {
  const server = d.server?.replace(/\/+$/, "");
  if (server === IN_CLUSTER.server || (!server && d.name === IN_CLUSTER.name)) return "in-cluster";
  return server ? `server ${server}` : `name ${d.name ?? ""}`;
}

function describe(d: Destination): string {
  return d.server ? `server ${d.server}` : `cluster ${d.name ?? "(none)"}`;
}

/** The stage whose overlay an Application syncs: overlays/<stage> or one layer below it. */
function stageOfApplication(all: Stage[], app: RenderedObject): Stage | undefined {
  const path = sourcePath(app);
  return all
    .filter((s) => path === `overlays/${s.id}` || (path.startsWith(`overlays/${s.id}/`) && !path.slice(`overlays/${s.id}/`.length).includes("/")))
    .sort((a, b) => b.id.length - a.id.length)[0];
}

/** Each Application of a cluster's stage deploys to that cluster (by the name or server the spec gives). */
export const destinationRule: Rule = (ctx) => {
  const all = stages(ctx.spec);
  const out: Finding[] = [];
  for (const app of ctx.argocd.filter(isApplication)) {
    const stage = stageOfApplication(all, app);
    const cluster = stage && clusterOf(ctx.spec, stage);
    if (!stage || !cluster) continue;
    const want: Destination = cluster.server ? { server: cluster.server } : { name: cluster.name };
    const have = destinationOf(app);
    if (clusterKey(have) !== clusterKey(want) || (have.server !== undefined && have.name !== undefined)) {
      out.push(finding("destination", app, "spec.destination", `syncs ${sourcePath(app)}, the overlay of ${stage.id}, to ${describe(have)}; ${stage.id} runs on ${describe(want)} (environments.${stage.env}.clusters): it would deploy one cluster's release into another`, stage.id));
    }
  }
  return out;
};

/**
 * No two stages deploy into the same namespace of the same cluster: each Application prunes what
 * its overlay no longer renders, so they would delete each other's objects (or fight over them
 * as shared resources, argo-cd "SharedResourceWarning").
 */
export const sharedDestinationRule: Rule = (ctx) => {
  const all = stages(ctx.spec);
  const owners = new Map<string, { app: RenderedObject; stage: Stage }>();
  const out: Finding[] = [];
  for (const app of ctx.argocd.filter(isApplication)) {
    const stage = stageOfApplication(all, app);
    if (!stage) continue;
    const d = destinationOf(app);
    const key = `${clusterKey(d)}\0${d.namespace ?? ""}`;
    const first = owners.get(key);
    if (!first) owners.set(key, { app, stage });
    else if (first.stage.id !== stage.id) {
      out.push(finding("shared-destination", app, "spec.destination", `deploys ${stage.id} into namespace ${d.namespace} on ${describe(d)}, where ${objectId(first.app.object)} deploys ${first.stage.id}: each would prune the other's objects. Give each stage its own cluster or namespace`, stage.id));
    }
  }
  return out;
};

const GLOB = /[*?[\]{}!]/;

/**
 * The project admits each Application's destination by an exact entry (same name or server, same
 * namespace): Argo CD refuses to sync an Application whose destination its project does not
 * permit. And no entry is a pattern: a `*` cluster or namespace would let an Application of one
 * cluster deploy into another's.
 */
export const projectDestinationsRule: Rule = (ctx: RuleContext) => {
  const out: Finding[] = [];
  const projects = ctx.argocd.filter((o) => o.object.kind === "AppProject" && (o.object.apiVersion ?? "").startsWith("argoproj.io/"));
  const apps = ctx.argocd.filter(isApplication);
  for (const project of projects) {
    const name = project.object.metadata?.name;
    const mine = apps.filter((a) => (a.object.spec as { project?: string } | undefined)?.project === name);
    if (!mine.length) continue;
    const entries = ((project.object.spec as { destinations?: Destination[] } | undefined)?.destinations ?? []) as Destination[];
    entries.forEach((e, i) => {
      const loose = (["name", "server", "namespace"] as const).filter((k) => typeof e[k] === "string" && GLOB.test(e[k]!));
      if (loose.length) {
        out.push(finding("project-destinations", project, `spec.destinations[${i}]`, `allows ${loose.map((k) => `${k} ${JSON.stringify(e[k])}`).join(" and ")}: any Application of project ${name} could deploy into another cluster's or environment's namespace (Argo CD globs these fields). List each cluster and namespace exactly`));
      }
    });
    for (const app of mine) {
      const d = destinationOf(app);
      const exact = entries.some((e) => e.namespace === d.namespace && ((d.server !== undefined && e.server?.replace(/\/+$/, "") === d.server.replace(/\/+$/, "")) || (d.name !== undefined && e.name === d.name)));
      if (!exact) {
        out.push(finding("project-destinations", app, "spec.destination", `deploys to ${describe(d)}, namespace ${d.namespace}, which project ${name} does not list (by the same ${d.server !== undefined ? "server" : "name"}): Argo CD refuses to sync it ("application destination ... is not permitted in project"). Run \`pnpm generate\``));
      }
    }
  }
  return out;
};

export const clusterRules: Record<string, Rule> = {
  destination: destinationRule,
  "shared-destination": sharedDestinationRule,
  "project-destinations": projectDestinationsRule,
};
