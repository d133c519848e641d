// `environments.<env>.clusters` (issue 12): the destination clusters of an environment that runs on
// several. Each cluster gets its own overlays (overlays/<env>/<cluster>/, one Argo CD Application
// per layer) and its own image tags, promoted wave by wave (tools/spec/stages.ts).
import { z } from "zod";

/** Environment fields a cluster may override; everything else is the environment's. */
export const CLUSTER_OVERRIDES = ["host", "hosts", "paths", "sync", "config", "components", "data", "application", "extras"] as const;

const clusterName = z
  .string()
  .regex(/^[a-z]([-a-z0-9]*[a-z0-9])?$/, "must be a DNS label starting with a letter (lower-case letters, digits and '-')")
  .max(40)
  .describe("This cluster in the repository (overlay directory, Application name suffix); also its Argo CD cluster name (destination.name) unless `server` is given");

/**
 * The clusters schema over the environment's own field schemas: an override takes exactly what the
 * environment takes (the same validation), without the environment's defaults (absent = inherited).
 */
export function clustersSchema(environmentShape: Record<string, z.ZodType>) {
  const overrides: Record<string, z.ZodType> = {};
  for (const key of CLUSTER_OVERRIDES) {
    let field = environmentShape[key];
    if (!field) continue;
    while (field instanceof z.ZodDefault || field instanceof z.ZodOptional) field = (field as z.ZodDefault<z.ZodType> | z.ZodOptional<z.ZodType>).unwrap() as z.ZodType;
    overrides[key] = field.optional();
  }
  const cluster = z
    .strictObject({
      name: clusterName,
      server: z
        .string()
        .url()
        .optional()
        .describe("The cluster's API server URL (destination.server) when it is not addressed by its Argo CD cluster name; Argo CD refuses a destination with both (util/argo/argo.go GetDestinationServer)"),
      wave: z.number().int().min(1).default(1).describe("Promotion wave inside the environment: a tag reaches every cluster of a wave before the next (canary first)"),
      ...overrides,
    })
    .describe("A destination cluster of the environment, with the settings it overrides");
  return z
    .array(cluster)
    .min(1)
    .superRefine((clusters, ctx) => {
      const names = new Map<string, number>();
      const destinations = new Map<string, number>();
      clusters.forEach((c, i) => {
        if (names.has(c.name)) ctx.addIssue({ code: "custom", path: [i, "name"], message: `cluster ${c.name} is listed twice (also at clusters[${names.get(c.name)}])` });
        names.set(c.name, i);
        const destination = c.server ? `server ${c.server.replace(/\/+$/, "")}` : `name ${c.name}`;
        if (destinations.has(destination)) ctx.addIssue({ code: "custom", path: [i, c.server ? "server" : "name"], message: `clusters[${destinations.get(destination)}] deploys to the same Argo CD cluster (${destination}): two Applications would own the same namespace` });
        destinations.set(destination, i);
      });
    })
    .optional()
    .describe("The destination clusters of this environment (absent: one, `destinationServer`); each gets overlays/<env>/<cluster>/ and Applications <name>-<env>-<cluster>[-<layer>]");
}
