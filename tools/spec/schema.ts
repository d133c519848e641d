// The environments spec: one typed file from which `pnpm generate` writes every overlay and the
// Argo CD project and applications. It is generic on purpose: a fork describes its own
// components of a few kinds (served web, worker, singleton, hook job), not only Ringlet's.
import { z } from "zod";
import { gatesSchema } from "./gates.ts";
import { quantity } from "./quantity.ts";
import { clustersSchema } from "./clusters.ts";

const dnsLabel = z
  .string()
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, "must be a DNS label: lower-case letters, digits and '-', starting and ending alphanumeric")
  .max(63);
const dnsName = z
  .string()
  .max(253)
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/, "must be a DNS name");
const cpu = z.string().regex(/^(\d+m|\d+(\.\d+)?)$/, "must be a CPU quantity such as 250m or 1");
const memory = z.string().regex(/^\d+(Ki|Mi|Gi|Ti|k|M|G|T)?$/, "must be a memory quantity such as 512Mi or 1Gi");
const imageName = z
  .string()
  .regex(/^[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(\/[a-z0-9]+([._-][a-z0-9]+)*)*$/, "must be an image reference without tag or digest");

const resourcesSchema = z
  .strictObject({
    requests: z.strictObject({ cpu, memory }),
    limits: z.strictObject({ cpu, memory }),
  })
  .superRefine((r, ctx) => {
    for (const res of ["cpu", "memory"] as const) {
      if (quantity(r.requests[res]) > quantity(r.limits[res])) {
        ctx.addIssue({ code: "custom", path: ["requests", res], message: `request ${r.requests[res]} is above the limit ${r.limits[res]}` });
      }
    }
  });

const componentSchema = z.strictObject({
  /** served web: Deployment + Service + Ingress + autoscaler; worker: Deployment + autoscaler;
   *  singleton: exactly one replica, never autoscaled; hook-job: a Job run as an Argo CD hook. */
  kind: z.enum(["web", "worker", "singleton", "hook-job"]),
  /** Name of the Deployment or Job in the base (the autoscaler, PDB, Service and Ingress share it). */
  workload: dnsLabel,
  /** The container whose resources the spec sets. */
  container: dnsLabel,
});

const replicasSchema = z
  .strictObject({ min: z.number().int().min(1), max: z.number().int().min(1) })
  .refine((r) => r.min <= r.max, { error: (issue) => `min ${(issue.input as { min: number }).min} is above max ${(issue.input as { max: number }).max}` });

const environmentComponentSchema = z.strictObject({
  replicas: replicasSchema.optional(),
  resources: resourcesSchema.optional(),
});

const databaseSchema = z.discriminatedUnion("mode", [
  z.strictObject({ mode: z.literal("in-cluster") }),
  z.strictObject({ mode: z.literal("managed"), host: dnsName, port: z.number().int().min(1).max(65535).default(5432) }),
]);

/** Like the database: in the cluster (the base's Redis servers), or a managed service (TLS by default). */
const redisSchema = z.discriminatedUnion("mode", [
  z.strictObject({ mode: z.literal("in-cluster") }),
  z.strictObject({ mode: z.literal("managed"), host: dnsName, port: z.number().int().min(1).max(65535).default(6380), tls: z.boolean().default(true) }),
]);

const envVarName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "must be an environment variable name");

/** Pods outside the application's namespaces, by namespace name and labels. */
const clusterPods = z.strictObject({ namespace: dnsLabel, podLabels: z.record(z.string(), z.string()) });

const environmentSchema = z.strictObject({
  namespace: dnsLabel,
  host: dnsName,
  /** auto: Argo CD syncs, prunes and self-heals; manual: an operator syncs (and may roll back). */
  sync: z.enum(["auto", "manual"]),
  database: databaseSchema,
  /** Where Redis runs (default: in the cluster). A managed Redis needs `connection.redis` at the top. */
  redis: redisSchema.default({ mode: "in-cluster" }),
  /** Prefix of this environment's keys in the secret backend (default "<name>/<env>"). */
  secretsPath: z.string().regex(/^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)*$/, "must be a slash-separated key prefix").optional(),
  /** Values merged into the application's ConfigMap (ringlet-config). */
  config: z.record(envVarName, z.string()).default({}),
  components: z.record(z.string(), environmentComponentSchema).default({}),
  /** What a promotion into this environment must pass (tools/release/gates.ts). */
  gates: gatesSchema.optional(),
});

/** An environment, optionally on several clusters (tools/spec/clusters.ts, issue 12). */
const environmentWithClusters = environmentSchema.extend({ clusters: clustersSchema(environmentSchema.shape) });

export const specSchema = z
  .strictObject({
  name: dnsLabel,
  /** The git repository Argo CD syncs from: this repository. */
  repoURL: z.string().url(),
  targetRevision: z.string().min(1).default("main"),
  project: dnsLabel,
  argocdNamespace: dnsLabel.default("argocd"),
  destinationServer: z.string().url().default("https://kubernetes.default.svc"),
  /** Images whose tags the environments move; the tag itself lives in each overlay. */
  images: z.array(z.strictObject({ name: imageName, initialTag: z.string().min(1) })).min(1),
  /** The application ConfigMap (a configMapGenerator in base/app) that `config` values merge into. */
  configMap: dnsLabel,
  /**
   * The data layer's stable ConfigMap (what pods and the PreSync hook read to start), the keys a
   * managed database overrides, and the keys derived from each environment's host: a template
   * in which "{host}" stands for the host, e.g. CSRF_TRUSTED_ORIGINS: "https://{host}".
   */
  connection: z.strictObject({
    configMap: dnsLabel,
    hostKey: z.string().min(1),
    portKey: z.string().min(1),
    hostSettings: z.record(envVarName, z.string().includes("{host}", { message: 'must contain "{host}"' })).default({}),
    /** The connection ConfigMap's Redis URL keys and the database number each uses on a managed Redis. */
    redis: z.strictObject({ urlKeys: z.record(envVarName, z.number().int().min(0).max(15)) }).optional(),
  }),
  /**
   * What the NetworkPolicy rules take as given outside the environments' namespaces: the pods of
   * the ingress controller (they must reach every Ingress backend) and of the cluster DNS.
   */
  cluster: z
    .strictObject({
      ingressController: clusterPods.default({ namespace: "ingress-nginx", podLabels: { "app.kubernetes.io/name": "ingress-nginx", "app.kubernetes.io/component": "controller" } }),
      dns: clusterPods.default({ namespace: "kube-system", podLabels: { "k8s-app": "kube-dns" } }),
    })
    .default({
      ingressController: { namespace: "ingress-nginx", podLabels: { "app.kubernetes.io/name": "ingress-nginx", "app.kubernetes.io/component": "controller" } },
      dns: { namespace: "kube-system", podLabels: { "k8s-app": "kube-dns" } },
    }),
  components: z.record(dnsLabel, componentSchema),
  /** In promotion order: the first is where new tags land, the last is production. */
  environments: z.record(dnsLabel, environmentWithClusters),
})
  .superRefine((spec, ctx) => {
    for (const [name, env] of Object.entries(spec.environments)) {
      if (env.redis.mode === "managed" && !Object.keys(spec.connection.redis?.urlKeys ?? {}).length) {
        ctx.addIssue({ code: "custom", path: ["environments", name, "redis"], message: "a managed Redis needs connection.redis.urlKeys: the connection ConfigMap keys that hold its URLs" });
      }
    }
  });

export type Spec = z.infer<typeof specSchema>;
export type Environment = z.infer<typeof environmentWithClusters>;
export type Component = z.infer<typeof componentSchema>;
export type Resources = z.infer<typeof resourcesSchema>;
