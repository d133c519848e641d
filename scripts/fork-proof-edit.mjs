// Edits a spec as a fork would (scripts/fork-proof.sh): every environment's namespace, host(s),
// replica bounds, resources and config change, a managed store's host moves, and a new environment
// `qa` is added after the second stage. Comments and order are kept (yaml's Document API).
import { readFileSync, writeFileSync } from "node:fs";
import { isMap, parseDocument } from "yaml";

const file = process.argv[2];
const doc = parseDocument(readFileSync(file, "utf8"));
const envs = doc.get("environments");
const bump = (q) => q.replace(/^(\d+)(m|Mi|Gi)?$/, (_, n, u) => `${Math.round(Number(n) * 1.5)}${u ?? ""}`);
const names = [];
for (const pair of envs.items) {
  const name = String(pair.key.value ?? pair.key);
  names.push(name);
  const env = pair.value;
  env.set("namespace", `acme-${name}`);
  if (env.has("host")) env.set("host", `${name}.acme.example.org`);
  if (isMap(env.get("hosts"))) for (const h of env.get("hosts").items) h.value.value = `${name}-${h.value.value}`.replace(/ringlet/g, "acme");
  const config = env.get("config") ?? doc.createNode({});
  config.set("FORK_MARKER", `fork-${name}`);
  env.set("config", config);
  const data = env.get("data");
  if (isMap(data)) for (const s of data.items) if (isMap(s.value) && s.value.get("mode") === "managed") s.value.set("host", `acme-${name}-${s.key}.example.net`);
  const components = env.get("components");
  if (isMap(components)) {
    for (const c of components.items) {
      const replicas = c.value.get("replicas");
      if (isMap(replicas)) {
        replicas.set("min", Number(replicas.get("min")) + 1);
        replicas.set("max", Number(replicas.get("max")) + 3);
      } else if (typeof replicas === "number") c.value.set("replicas", replicas + 1);
      const resources = c.value.get("resources");
      if (isMap(resources)) for (const side of ["requests", "limits"]) for (const q of resources.get(side).items) q.value = doc.createNode(bump(String(q.value.value ?? q.value)));
    }
  }
}
// A new environment after the second stage (auto-synced, in-cluster data, its own sizes).
const second = envs.items[Math.min(1, envs.items.length - 1)];
const qa = doc.createNode(second.value.toJSON());
qa.set("namespace", "acme-qa");
if (qa.has("host")) qa.set("host", "qa.acme.example.org");
qa.delete("gates");
qa.set("sync", "auto");
qa.set("config", doc.createNode({ FORK_MARKER: "fork-qa" }));
const pair = doc.createPair("qa", qa);
envs.items.splice(envs.items.indexOf(second) + 1, 0, pair);
writeFileSync(file, doc.toString());
console.log(`fork-proof: changed ${names.join(", ")}; added qa after ${second.key}`);
