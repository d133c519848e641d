// `pnpm bench`: how fast `pnpm check` (and bump-image --dry-run) are on this machine, each figure
// next to the baseline measured in the same run and the target it is held to. Figures are
// printed, never asserted: a shared, noisy machine makes single runs vary, so each wall time is
// a median (and a minimum) of several runs, interleaved with its baseline.
//
//   (a) `pnpm check` on this repository against the bare renders (6 sequential kustomize builds);
//       targets: at most 1.5 s median and at most 3x the bare renders. The check runs as the pnpm
//       script does (the launcher bin/gitops.mjs), next to the same check through tsx; the
//       start-up alone (check --help) both ways; and what pnpm adds.
//   (b) throughput of parsing + strict validation + all rules, in rendered objects per CPU-second
//       (process.cpuUsage), on the renders replicated to a few thousand objects; target 20,000.
//   (c) scaling: a generated repository with 10, 20, 40 and 60 workload components x 3
//       environments; check's phases per size and their cost per component (linear = constant).
//   (d) `pnpm bump-image v9.9.9 --dry-run` in a temp copy (it writes nothing); target 1 s.
//
//   (f) fleets (issue 12, item 4): temp repositories of 10, 100 and 300 overlays generated from
//       this repository's base and spec (environments cloned as apps x stages x clusters, each
//       with its own name, namespace and hosts), against the sequential bare renders of the same
//       overlays: a full check with a cold render cache (target <= 1.2x bare renders / cores), a
//       full check with a warm one, a check after a one-line tag change in one overlay (target
//       <= 1.5 s at 300), each with the check process's peak memory; and at 300 overlays the YAML
//       parsers side by side (kustomize's output through js-yaml and through `yaml`).
//
// `pnpm bench` runs a-d (about a minute on two cores); `pnpm bench f` the fleets (several
// minutes: the bare renders of 410 overlays alone take a minute or more); `pnpm bench b d` only those.
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { resolveRoot } from "../tools/cli.ts";
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parse as parseYamlText, stringify } from "yaml";
import { gatherInputs } from "../tools/check/inputs.ts";
import { git } from "../tools/git/git.ts";
import { TOOLS_ROOT, repoPaths } from "../tools/core/paths.ts";
import { parseYamlStream, parseYamlStreamFull } from "../tools/core/yaml.ts";
import { planChanges } from "../tools/generate/apply.ts";
import { kustomizeBinary, mapLimit, render } from "../tools/render/kustomize.ts";
import { rules as allRules, runRules } from "../tools/rules/index.ts";
import type { RenderedEnvironment, RenderedObject, RuleContext } from "../tools/rules/types.ts";
import { loadSpec } from "../tools/spec/load.ts";

const USAGE = `Usage: pnpm bench [a] [b] [c] [d] [f] [--root <dir>]

Benchmarks with figures and ratios against baselines measured in the same run (about a minute).
  a  pnpm check against the bare kustomize renders     c  scaling with the number of components
  b  parse + strict schema + rules throughput           d  bump-image --dry-run
  f  fleets of 10, 100 and 300 overlays: check with a cold and a warm render cache, after a
     one-line change, peak memory, YAML parsers (several minutes)
With no section, a-d run.

Options:
  -h, --help        show this help
      --root <dir>  repository to measure (default: this checkout)
`;
const args = (() => {
  try {
    return parseArgs({ args: process.argv.slice(2), options: { help: { type: "boolean", short: "h" }, root: { type: "string" } }, allowPositionals: true, strict: true });
  } catch (error) {
    process.stderr.write(`error: ${(error as Error).message}\n${USAGE}`);
    process.exit(2);
  }
})();
if (args.values.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}
const badSections = args.positionals.filter((a) => !["a", "b", "c", "d", "f"].includes(a.toLowerCase()));
if (badSections.length) {
  process.stderr.write(`error: unknown section ${badSections.map((a) => JSON.stringify(a)).join(", ")}; sections: a, b, c, d, f\n`);
  process.exit(2);
}
/** The repository measured (--root, resolved as every command resolves it); the tools always run from this checkout. */
const ROOT = (() => {
  try {
    return resolveRoot(args.values.root, process.env);
  } catch (error) {
    process.stderr.write(`error: ${(error as Error).message}\n`);
    process.exit(2);
  }
})();
if (!existsSync(join(ROOT, "overlays", "environments.yaml"))) {
  process.stderr.write(`error: ${ROOT} has no overlays/environments.yaml: --root must name a checkout of this repository\n`);
  process.exit(2);
}
const TOOLS = TOOLS_ROOT;
const CLI = join(TOOLS, "tools", "cli.ts");
// In-process phases print no progress lines between the figures.
process.env.GITOPS_QUIET = "1";
const ENV = { ...process.env, GITOPS_QUIET: "1", NO_COLOR: "1" };
const started = performance.now();
const startLoad = loadavg()[0]!;

// ---------------------------------------------------------------------------------------------
// Helpers

interface Timed {
  ms: number;
  code: number;
  stdout: string;
}

/** Runs a program (argument array, no shell) and times it from spawn to exit. */
function timed(command: string, args: string[], cwd = TOOLS, env: NodeJS.ProcessEnv = ENV): Promise<Timed> {
  return new Promise((resolvePromise, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(command, args, { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    const out: Buffer[] = [];
    child.stdout.on("data", (b: Buffer) => out.push(b));
    child.stderr.resume();
    child.on("error", reject);
    child.on("close", (code) => resolvePromise({ ms: Number(process.hrtime.bigint() - t0) / 1e6, code: code ?? 1, stdout: Buffer.concat(out).toString("utf8") }));
  });
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const min = (xs: number[]) => Math.min(...xs);
const ms = (x: number) => `${Math.round(x)} ms`;
const rate = (n: number) => `${Math.round(n).toLocaleString("en-US")}/CPU-s`;
const cpuSeconds = (since: NodeJS.CpuUsage) => {
  const u = process.cpuUsage(since);
  return (u.user + u.system) / 1e6;
};

const rows: [string, string, string][] = [];
function row(figure: string, value: string, explanation: string): void {
  rows.push([figure, value, explanation]);
  process.stderr.write(`  ${figure}: ${value}\n`);
}
function section(title: string): void {
  rows.push([`## ${title}`, "", ""]);
  process.stderr.write(`${title}\n`);
}

/** What the pnpm scripts run: the launcher (bin/gitops.mjs), which runs the CLI from its bundle. */
const LAUNCHER = join(TOOLS, "bin", "gitops.mjs");
const checkArgs = (root = ROOT) => [LAUNCHER, "check", "--root", root];
/** The same check through tsx (what the scripts ran before the launcher), for comparison. */
const tsxCheckArgs = (root = ROOT) => ["--import", "tsx", CLI, "check", "--root", root];

async function overlayDirs(root: string): Promise<string[]> {
  const spec = await loadSpec(repoPaths(root).spec, root);
  return Object.keys(spec.environments).flatMap((env) => [join(root, "overlays", env), join(root, "overlays", env, "data")]);
}

/**
 * CPU time (user + system, ms) of this process's children that have exited and been waited for,
 * their own waited-for children included (Linux /proc/self/stat cutime + cstime); undefined
 * where there is no /proc. A child's share is the difference across its run.
 */
function childrenCpuMs(): number | undefined {
  try {
    const stat = readFileSync("/proc/self/stat", "utf8");
    // Fields after the command name (which may hold spaces) in parentheses; cutime and cstime
    // are fields 16 and 17, in clock ticks (USER_HZ, 100 on Linux).
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return ((Number(fields[13]) + Number(fields[14])) * 1000) / 100;
  } catch {
    return undefined;
  }
}

/** The bare renders: one kustomize process per overlay, one after the other (wall ms). */
async function bareRenders(dirs: string[]): Promise<number> {
  return (await bareRendersCpu(dirs)).ms;
}

/** bareRenders, with the CPU time the kustomize processes used (ms; undefined without /proc). */
async function bareRendersCpu(dirs: string[]): Promise<{ ms: number; cpu: number | undefined }> {
  const bin = await kustomizeBinary();
  const cpu0 = childrenCpuMs();
  const t0 = process.hrtime.bigint();
  for (const dir of dirs) {
    const r = await timed(bin.path, bin.flavour === "kubectl" ? ["kustomize", dir] : ["build", dir]);
    if (r.code !== 0) throw new Error(`kustomize build ${dir} failed`);
  }
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  const cpu1 = childrenCpuMs();
  return { ms, cpu: cpu0 === undefined || cpu1 === undefined ? undefined : cpu1 - cpu0 };
}

// ---------------------------------------------------------------------------------------------
// (b) Throughput, first: in this process, with every cache cold.

async function throughput(): Promise<void> {
  section("(b) parse + strict validation + all rules, objects per CPU-second (target >= 20,000)");
  const inputs = await gatherInputs(ROOT, repoPaths(ROOT).spec);
  if (!inputs.context) throw new Error("check inputs failed: the repository's spec does not load");
  const base = inputs.context;
  const perReplica = inputs.renders.reduce((n, r) => n + parseYamlStream(r.output, r.dir).length, 0);
  const replicas = Math.ceil(3000 / perReplica);
  const objects = perReplica * replicas;

  const contextFor = (parsed: { env: string; layer: string; dir: string; objects: ReturnType<typeof parseYamlStream> }[]): RuleContext => {
    const environments: RenderedEnvironment[] = base.environments.map((e) => ({ env: e.env, layers: {} as Record<string, RenderedObject[]> }));
    for (const p of parsed) {
      const target = environments.find((e) => e.env === p.env)!;
      target.layers[p.layer] = p.objects.map((object) => ({ env: p.env, layer: p.layer, object, source: p.dir }));
    }
    return { ...base, environments };
  };
  const parseAll = (parser: typeof parseYamlStream) => inputs.renders.map((r) => ({ env: r.env, layer: r.layer, dir: r.dir, objects: parser(r.output, r.dir) }));

  // The whole pipeline over the replicas: the first pass with every cache cold (it loads the
  // validators of each kind and warms the JIT), then passes until the figures settle.
  const pass = () => {
    const since = process.cpuUsage();
    let findings = 0;
    for (let i = 0; i < replicas; i++) findings += runRules(contextFor(parseAll(parseYamlStream))).length;
    return { cpu: cpuSeconds(since), findings };
  };
  const first = pass();
  const later = Array.from({ length: 11 }, () => pass().cpu);
  const steady = median(later.slice(-4));
  row("pipeline, first pass (cold)", rate(objects / first.cpu), `${objects} objects (${replicas} x ${perReplica}) in ${ms(first.cpu * 1000)} CPU, ${first.findings} findings; includes loading every validator once`);
  row("pipeline, steady state", rate(objects / steady), `median of passes 9-12 (${ms(steady * 1000)} CPU); vs target 20,000: ${(objects / steady / 20000).toFixed(1)}x, ${objects / steady >= 20000 ? "within" : "UNDER"}`);
  row("  fixed cost of the first pass", ms((first.cpu - steady) * 1000), "validators loaded and compiled, JIT warm-up: paid once per process, whatever the object count");

  // Its parts, in the steady state.
  const { schema, ...others } = allRules;
  const contexts: RuleContext[] = [];
  const parse = median(
    Array.from({ length: 4 }, () => {
      contexts.length = 0;
      const since = process.cpuUsage();
      for (let i = 0; i < replicas; i++) contexts.push(contextFor(parseAll(parseYamlStream)));
      return cpuSeconds(since);
    }),
  );
  const part = (selected: Record<string, (typeof allRules)[string]>) =>
    median(
      Array.from({ length: 4 }, () => {
        const since = process.cpuUsage();
        for (const ctx of contexts) runRules(ctx, selected as typeof allRules);
        return cpuSeconds(since);
      }),
    );
  const validation = part({ schema: schema! });
  const other = part(others);
  row("  parse (js-yaml)", rate(objects / parse), "kustomize's output through parseYamlStream (js-yaml, core schema)");
  row("  strict schema validation", rate(objects / validation), "the schema rule alone (kubernetes-models validators + unknown-field walk)");
  row("  all other rules", rate(objects / other), "patches, consistency, policy, Argo CD rules");

  // The reference parser on a sample, for comparison (the fast path's "before"), warmed the same way.
  const sample = Math.max(1, Math.floor(replicas / 6));
  const full = median(
    Array.from({ length: 3 }, () => {
      const since = process.cpuUsage();
      for (let i = 0; i < sample; i++) parseAll(parseYamlStreamFull);
      return cpuSeconds(since);
    }),
  );
  row("  parse (yaml parseAllDocuments+toJS)", rate((sample * perReplica) / full), `the full parser, ${sample * perReplica} objects a pass: the fast path is ${(full / sample / (parse / replicas)).toFixed(0)}x cheaper`);
}

// ---------------------------------------------------------------------------------------------
// (a) pnpm check on this repository, against the bare renders.

async function checkVsRenders(): Promise<void> {
  section("(a) pnpm check on this repository vs the bare renders (targets: <= 1.5 s median, <= 3x bare renders)");
  const dirs = await overlayDirs(ROOT);
  // The warm-up also builds the launcher's bundle if these sources have none yet.
  const warm = await timed(process.execPath, checkArgs());
  if (warm.code !== 0) process.stderr.write(`  note: check exits ${warm.code} on this tree (findings); timing it anyway\n`);
  await timed(process.execPath, tsxCheckArgs());
  await bareRenders(dirs);
  const runs = 7;
  const check: number[] = [];
  const viaTsx: number[] = [];
  const bare: number[] = [];
  for (let i = 0; i < runs; i++) {
    bare.push(await bareRenders(dirs));
    check.push((await timed(process.execPath, checkArgs())).ms);
    viaTsx.push((await timed(process.execPath, tsxCheckArgs())).ms);
  }
  const ratio = median(check) / median(bare);
  row("check (pnpm check: node bin/gitops.mjs check)", `median ${ms(median(check))}, min ${ms(min(check))}`, `${runs} runs after a warm-up; vs 1.5 s target: ${median(check) <= 1500 ? "within" : "OVER"} (${((median(check) / 1500) * 100).toFixed(0)}% of it)`);
  row("  the same through tsx (node --import tsx tools/cli.ts check)", `median ${ms(median(viaTsx))}, min ${ms(min(viaTsx))}`, `interleaved with the above: the launcher saves ${ms(median(viaTsx) - median(check))}`);
  row(`bare renders (${dirs.length} sequential kustomize builds)`, `median ${ms(median(bare))}, min ${ms(min(bare))}`, "the floor: the same kustomize work with no parsing, rules or node start-up");
  row("check / bare renders", `${ratio.toFixed(2)}x`, `vs 3x target: ${ratio <= 3 ? "within" : "OVER"}`);

  // The fixed start-up every command pays: check --help loads the CLI and the command, runs nothing.
  const helpLauncher: number[] = [];
  const helpTsx: number[] = [];
  for (let i = 0; i < 5; i++) {
    helpLauncher.push((await timed(process.execPath, [LAUNCHER, "check", "--help"])).ms);
    helpTsx.push((await timed(process.execPath, ["--import", "tsx", CLI, "check", "--help"])).ms);
  }
  row("  start-up: check --help (launcher)", `median ${ms(median(helpLauncher))}, min ${ms(min(helpLauncher))}`, `through tsx: median ${ms(median(helpTsx))}, min ${ms(min(helpTsx))} (5 runs each, interleaved)`);

  // With pnpm's own start-up (what `pnpm check` costs at a prompt).
  const direct: number[] = [];
  const viaPnpm: number[] = [];
  let pnpmMissing = false;
  for (let i = 0; i < 3; i++) {
    direct.push((await timed(process.execPath, checkArgs())).ms);
    try {
      viaPnpm.push((await timed("pnpm", ["-s", "check", "--root", ROOT])).ms);
    } catch {
      pnpmMissing = true;
    }
  }
  if (pnpmMissing || viaPnpm.length === 0) row("  via pnpm (pnpm -s check)", "n/a", "pnpm is not on PATH");
  else row("  via pnpm (pnpm -s check)", `median ${ms(median(viaPnpm))}`, `+${ms(median(viaPnpm) - median(direct))} over node bin/gitops.mjs check (${ms(median(direct))} in these runs): pnpm's start-up (the 1.5 s target is for the check itself)`);
}

// ---------------------------------------------------------------------------------------------
// (c) Scaling with the number of components.

const SIZES = [10, 20, 40, 60];

/** A temp repository with `count` extra worker components (Deployment, autoscaler, PDB each). */
async function syntheticRepo(count: number): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `ringlet-bench-${count}-`));
  for (const part of ["base", "components", "overlays", "argocd"]) await cp(join(ROOT, part), join(dir, part), { recursive: true });
  const templates = await Promise.all(["worker-deployment.yaml", "worker-hpa.yaml", "worker-pdb.yaml"].map((f) => readFile(join(ROOT, "base", "app", f), "utf8")));
  const resources: string[] = [];
  for (let i = 1; i <= count; i++) {
    const name = `w${String(i).padStart(2, "0")}`;
    for (const [k, template] of templates.entries()) {
      const file = `${name}-${["deployment", "hpa", "pdb"][k]}.yaml`;
      const text = template.replaceAll("name: ringlet-worker", `name: ringlet-${name}`).replaceAll("app.kubernetes.io/component: worker", `app.kubernetes.io/component: ${name}`);
      await writeFile(join(dir, "base", "app", file), text);
      resources.push(file);
    }
  }
  const kustomization = join(dir, "base", "app", "kustomization.yaml");
  const kText = await readFile(kustomization, "utf8");
  await writeFile(kustomization, kText.replace("resources:\n", `resources:\n${resources.map((r) => `  - ${r}\n`).join("")}`));
  const spec = parseYamlText(await readFile(join(ROOT, "overlays", "environments.yaml"), "utf8")) as {
    components: Record<string, unknown>;
    environments: Record<string, { components?: Record<string, unknown> }>;
  };
  for (let i = 1; i <= count; i++) {
    const name = `w${String(i).padStart(2, "0")}`;
    spec.components[name] = { kind: "worker", workload: `ringlet-${name}`, container: "worker" };
    // Every other one differs per environment, so the overlays carry patches for them too.
    if (i % 2 === 0) for (const env of Object.values(spec.environments)) (env.components ??= {})[name] = { replicas: { min: 1, max: 3 } };
  }
  await writeFile(join(dir, "overlays", "environments.yaml"), stringify(spec));
  const generated = await timed(process.execPath, ["--import", "tsx", CLI, "generate", "--root", dir]);
  if (generated.code !== 0) throw new Error(`generate failed in ${dir}`);
  return dir;
}

async function scaling(): Promise<void> {
  section(`(c) scaling: ${SIZES.join(", ")} extra worker components x 3 environments (linear = constant cost per component)`);
  const results: { comps: number; objects: number; check: number; renders: number; parse: number; drift: number; rules: number }[] = [];
  for (const comps of SIZES) {
    const dir = await syntheticRepo(comps);
    try {
      const checks: number[] = [];
      let exit = 0;
      for (let i = 0; i < 3; i++) {
        const r = await timed(process.execPath, checkArgs(dir));
        checks.push(r.ms);
        exit = r.code;
      }
      // The phases, in this process (warm caches: the marginal cost of more components), each
      // the best of 3 (a noisy neighbour only ever adds time).
      const best = async (fn: () => Promise<number> | number) => {
        const xs: number[] = [];
        for (let i = 0; i < 3; i++) xs.push(await fn());
        return min(xs);
      };
      const dirs = await overlayDirs(dir);
      let outputs: string[] = [];
      const renders = await best(async () => {
        const t0 = performance.now();
        outputs = await mapLimit(dirs, (d) => render(d));
        return performance.now() - t0;
      });
      let objects = 0;
      const parse = best(() => {
        const since = process.cpuUsage();
        objects = outputs.reduce((n, o) => n + parseYamlStream(o, "bench").length, 0);
        return cpuSeconds(since) * 1000;
      });
      const spec = await loadSpec(repoPaths(dir).spec, dir);
      const drift = await best(async () => {
        const t0 = performance.now();
        const plan = await planChanges(dir, spec);
        if (plan.changes.length) process.stderr.write(`  note: ${plan.changes.length} drifted files in the synthetic repository\n`);
        return performance.now() - t0;
      });
      const inputs = await gatherInputs(dir, repoPaths(dir).spec);
      let found = 0;
      const rules = await best(() => {
        const since = process.cpuUsage();
        found = inputs.context ? runRules(inputs.context).length : 0;
        return cpuSeconds(since) * 1000;
      });
      results.push({ comps, objects, check: median(checks), renders, parse: await parse, drift, rules });
      process.stderr.write(`  ${comps} components: ${objects} objects, check ${ms(median(checks))} (exit ${exit}, ${found} findings)\n`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
  const header = "components | objects | check (median of 3) | renders (parallel) | parse CPU | drift plan | rules CPU   (phases: best of 3)";
  rows.push([header, "", ""]);
  for (const r of results) rows.push([`${String(r.comps).padStart(10)} | ${String(r.objects).padStart(7)} | ${ms(r.check).padStart(19)} | ${ms(r.renders).padStart(18)} | ${ms(r.parse).padStart(9)} | ${ms(r.drift).padStart(10)} | ${ms(r.rules).padStart(9)}`, "", ""]);
  // Least-squares slope (ms per component) and how straight the line is (R^2).
  const fit = (ys: number[]) => {
    const xs = results.map((r) => r.comps);
    const mx = xs.reduce((a, b) => a + b, 0) / xs.length;
    const my = ys.reduce((a, b) => a + b, 0) / ys.length;
    const sxy = xs.reduce((a, x, i) => a + (x - mx) * (ys[i]! - my), 0);
    const sxx = xs.reduce((a, x) => a + (x - mx) ** 2, 0);
    const slope = sxy / sxx;
    const ssTot = ys.reduce((a, y) => a + (y - my) ** 2, 0);
    const ssRes = ys.reduce((a, y, i) => a + (y - (my + slope * (xs[i]! - mx))) ** 2, 0);
    return { slope, r2: ssTot ? 1 - ssRes / ssTot : 1, intercept: my - slope * mx };
  };
  for (const [label, key] of [
    ["check", "check"],
    ["renders", "renders"],
    ["parse", "parse"],
    ["drift plan", "drift"],
    ["rules", "rules"],
  ] as const) {
    const { slope, r2, intercept } = fit(results.map((r) => r[key]));
    const steps = results.slice(1).map((r, i) => ((r[key] - results[i]![key]) / (r.comps - results[i]!.comps)).toFixed(2)).join(" / ");
    row(`  ${label} per component`, `${slope.toFixed(2)} ms (R^2 ${r2.toFixed(3)})`, `fixed ${ms(intercept)}; step by step ${steps} ms per added component`);
  }
}

// ---------------------------------------------------------------------------------------------
// (d) bump-image --dry-run.

async function bumpImage(): Promise<void> {
  section("(d) pnpm bump-image v9.9.9 --dry-run (target: <= 1 s median)");
  const dir = await mkdtemp(join(tmpdir(), "ringlet-bench-bump-"));
  try {
    for (const part of ["base", "components", "overlays", "argocd"]) await cp(join(ROOT, part), join(dir, part), { recursive: true });
    // A git checkout, as bump-image expects: --dry-run then does everything but write (rendered diff included).
    await git(dir, ["init", "-q", "-b", "main"]);
    await git(dir, ["add", "-A"]);
    await git(dir, ["-c", "user.name=bench", "-c", "user.email=bench@example.invalid", "commit", "-q", "-m", "bench"]);
    const rest = ["bump-image", "v9.9.9", "--dry-run", "--root", dir];
    const args = [LAUNCHER, ...rest];
    const tsxArgs = ["--import", "tsx", CLI, ...rest];
    await timed(process.execPath, args);
    const runs: number[] = [];
    const viaTsx: number[] = [];
    let code = 0;
    for (let i = 0; i < 5; i++) {
      const r = await timed(process.execPath, args);
      runs.push(r.ms);
      code = r.code;
      viaTsx.push((await timed(process.execPath, tsxArgs)).ms);
    }
    row("bump-image --dry-run", `median ${ms(median(runs))}, min ${ms(min(runs))}`, `5 runs in a temp git copy (exit ${code}); vs 1 s target: ${median(runs) <= 1000 ? "within" : "OVER"}`);
    row("  the same through tsx", `median ${ms(median(viaTsx))}, min ${ms(min(viaTsx))}`, "interleaved with the above");
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// (f) Fleets.

// BENCH_FLEETS=10,20 for a quick look at other sizes (the figures in the README use the default).
const FLEETS = process.env.BENCH_FLEETS ? process.env.BENCH_FLEETS.split(",").map(Number) : [10, 100, 300];
const APPS = ["shop", "media", "search", "billing", "auth", "chat"];
const CLUSTERS = ["eu1", "us1", "ap1", "eu2", "us2"];

/** The overlay directories (with a kustomization) under overlays/ of a tree, repository-relative. */
async function kustomizationDirs(root: string): Promise<string[]> {
  const { readdir } = await import("node:fs/promises");
  const out: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    const entries = await readdir(join(root, rel), { withFileTypes: true }).catch(() => []);
    if (entries.some((e) => e.isFile() && e.name === "kustomization.yaml")) out.push(rel);
    for (const e of entries) if (e.isDirectory()) await walk(join(rel, e.name));
  };
  await walk("overlays");
  return out.sort();
}

/**
 * A temp repository with about `overlays` overlays: this repository's base, components and CRDs,
 * and a spec whose environments are copies of its own, in its stage order (every copy of the
 * first stage, then of the second...), named <app>-<stage>-<cluster>, each with its own namespace
 * and hosts; `pnpm generate` writes the overlays and Argo CD apps.
 */
async function fleetRepo(overlays: number): Promise<{ dir: string; dirs: string[]; first: string }> {
  const dir = await mkdtemp(join(tmpdir(), `gitops-fleet-${overlays}-`));
  for (const part of ["base", "components", "crds", "argocd"]) if (existsSync(join(ROOT, part))) await cp(join(ROOT, part), join(dir, part), { recursive: true });
  const spec = parseYamlText(await readFile(join(ROOT, "overlays", "environments.yaml"), "utf8")) as { environments: Record<string, Record<string, unknown>> };
  const stages = Object.entries(spec.environments);
  const perEnv = Math.max(1, Math.round((await kustomizationDirs(ROOT)).length / stages.length));
  const count = Math.max(stages.length, Math.ceil(overlays / perEnv));
  const environments: Record<string, Record<string, unknown>> = {};
  for (let k = 0; k < count; k++) {
    const [stage, template] = stages[Math.floor((k * stages.length) / count)]!;
    const app = APPS[k % APPS.length]!;
    const cluster = `${CLUSTERS[Math.floor(k / APPS.length) % CLUSTERS.length]}${Math.floor(k / (APPS.length * CLUSTERS.length)) || ""}`;
    const name = `${app}-${stage}-${cluster}`;
    const env = structuredClone(template);
    env.namespace = `${name}`;
    if (typeof env.host === "string") env.host = `${name}.example.com`;
    if (env.hosts && typeof env.hosts === "object") {
      env.hosts = Object.fromEntries(Object.keys(env.hosts).map((h, i) => [h, `${name}-${i}.example.com`]));
    }
    environments[name] = env;
  }
  spec.environments = environments;
  await mkdir(join(dir, "overlays"), { recursive: true });
  await writeFile(join(dir, "overlays", "environments.yaml"), stringify(spec));
  // The Argo CD files of the original environments are no longer generated: generate removes them.
  const generated = await timed(process.execPath, ["--import", "tsx", CLI, "generate", "--root", dir]);
  if (generated.code !== 0) throw new Error(`generate failed in ${dir}: ${generated.stdout}`);
  return { dir, dirs: (await kustomizationDirs(dir)).map((d) => join(dir, d)), first: Object.keys(environments)[0]! };
}

const MAXRSS = join(TOOLS, "bench", "maxrss.mjs");

/**
 * `pnpm check` in a child, timed, with its peak memory (MB), its own CPU time and that of the
 * kustomize processes it ran (ms; undefined without /proc), and its exit code.
 */
async function measuredCheck(dir: string, extraEnv: NodeJS.ProcessEnv = {}): Promise<{ ms: number; mb: number; ownCpu: number; kustomizeCpu: number | undefined; code: number; stdout: string }> {
  const file = join(dir, ".bench-maxrss");
  const cpu0 = childrenCpuMs();
  const r = await timed(process.execPath, ["--import", MAXRSS, LAUNCHER, "check", "--root", dir], TOOLS, { ...ENV, ...extraEnv, BENCH_MAXRSS_FILE: file });
  const cpu1 = childrenCpuMs();
  const [kb, own] = (await readFile(file, "utf8").catch(() => "0 0")).split(" ").map(Number) as [number, number];
  await rm(file, { force: true });
  const all = cpu0 === undefined || cpu1 === undefined ? undefined : cpu1 - cpu0;
  return { ms: r.ms, mb: kb / 1024, ownCpu: own, kustomizeCpu: all === undefined ? undefined : Math.max(0, all - own), code: r.code, stdout: r.stdout };
}

/** Moves the first environment's first image tag to a new value: a one-line change. */
async function oneLineChange(dir: string, env: string, n: number): Promise<void> {
  const file = join(dir, "overlays", env, "kustomization.yaml");
  const text = await readFile(file, "utf8");
  const next = text.replace(/^(\s*newTag:\s*)\S+$/m, `$1v9.9.${n}`);
  if (next === text) throw new Error(`${file} has no newTag line to change`);
  await writeFile(file, next);
}

async function fleets(): Promise<void> {
  const cores = availableParallelism();
  section(`(f) fleets: ${FLEETS.join(", ")} overlays vs the sequential bare renders (targets: cold <= 1.2x bare / ${cores} cores; warm after a one-line change <= 1.5 s at 300; memory flat per overlay)`);
  type Run = { ms: number; mb: number; ownCpu: number; kustomizeCpu: number | undefined };
  const results: { overlays: number; objects: number; bare: number; bareCpu: number | undefined; cold: Run; warm: Run; change: Run }[] = [];
  for (const size of FLEETS) {
    const fleet = await fleetRepo(size);
    try {
      const n = fleet.dirs.length;
      const reps = n >= 300 ? 1 : 2;
      const bare: { ms: number; cpu: number | undefined }[] = [];
      const cold: Run[] = [];
      for (let i = 0; i < reps; i++) {
        bare.push(await bareRendersCpu(fleet.dirs));
        await rm(join(fleet.dir, ".cache"), { recursive: true, force: true });
        const c = await measuredCheck(fleet.dir);
        if (c.code !== 0) process.stderr.write(`  note: check exits ${c.code} on the ${n}-overlay fleet:\n${c.stdout.slice(0, 2000)}\n`);
        cold.push(c);
      }
      const warm: Run[] = [];
      const change: Run[] = [];
      for (let i = 0; i < 3; i++) {
        warm.push(await measuredCheck(fleet.dir));
        await oneLineChange(fleet.dir, fleet.first, i + 1);
        change.push(await measuredCheck(fleet.dir));
      }
      const objects = Number(/checked (\d+) objects/.exec((await measuredCheck(fleet.dir)).stdout)?.[1] ?? 0);
      // The run with the median wall time, whole (its memory and CPU belong to it).
      const mid = (xs: Run[]) => [...xs].sort((x, y) => x.ms - y.ms)[Math.floor((xs.length - 1) / 2)]!;
      const bareMid = [...bare].sort((x, y) => x.ms - y.ms)[Math.floor((bare.length - 1) / 2)]!;
      results.push({ overlays: n, objects, bare: bareMid.ms, bareCpu: bareMid.cpu, cold: mid(cold), warm: mid(warm), change: mid(change) });
      process.stderr.write(`  ${n} overlays: bare ${ms(bareMid.ms)}, cold ${ms(mid(cold).ms)}, warm ${ms(mid(warm).ms)}, after a change ${ms(mid(change).ms)}\n`);
      if (size === FLEETS[FLEETS.length - 1]) await parsers(fleet.dirs, mid(cold).ms, mid(change).ms);
    } finally {
      // BENCH_KEEP=1 keeps the fleets for profiling (their paths go to stderr).
      if (process.env.BENCH_KEEP) process.stderr.write(`  kept ${fleet.dir}\n`);
      else await rm(fleet.dir, { recursive: true, force: true });
    }
  }
  const cpu = (x: number | undefined) => (x === undefined ? "n/a" : `${(x / 1000).toFixed(1)} s`);
  rows.push(["overlays | objects | bare renders: wall (seq.) / cores, CPU / cores | cold check: wall (x bare/cores, x CPU floor), own CPU | warm check | after 1-line change | peak MB cold / warm / change", "", ""]);
  for (const r of results) {
    const ideal = r.bare / cores;
    const floor = r.bareCpu === undefined ? undefined : r.bareCpu / cores;
    rows.push([
      `${String(r.overlays).padStart(8)} | ${String(r.objects).padStart(7)} | ${ms(r.bare)} / ${cores} = ${ms(ideal)}, ${cpu(r.bareCpu)} / ${cores} = ${floor === undefined ? "n/a" : ms(floor)} | ${ms(r.cold.ms)} (${(r.cold.ms / ideal).toFixed(2)}x, ${floor === undefined ? "n/a" : `${(r.cold.ms / floor).toFixed(2)}x`}), own ${cpu(r.cold.ownCpu)} | ${ms(r.warm.ms)} | ${ms(r.change.ms)} (own CPU ${cpu(r.change.ownCpu)}) | ${r.cold.mb.toFixed(0)} / ${r.warm.mb.toFixed(0)} / ${r.change.mb.toFixed(0)}`,
      "",
      "",
    ]);
  }
  const [small, large] = [results[0]!, results[results.length - 1]!];
  const last = large;
  row(`cold check vs bare renders / cores at ${last.overlays}`, `${(last.cold.ms / (last.bare / cores)).toFixed(2)}x`, `target <= 1.2x: ${last.cold.ms / (last.bare / cores) <= 1.2 ? "within" : "OVER"}`);
  if (last.bareCpu !== undefined) {
    const floor = last.bareCpu / cores;
    row(
      `  the CPU floor at ${last.overlays}`,
      `${ms(floor)} (${(floor / (last.bare / cores)).toFixed(2)}x bare / cores)`,
      `the bare renders' own CPU time / ${cores} cores: no schedule of the same kustomize processes on ${cores} cores ends sooner; ${(last.bareCpu / last.bare).toFixed(2)} cores were busy per sequential render (above 1: kustomize's own threads; below 1: a shared machine, and the floor means little); the cold check is ${(last.cold.ms / floor).toFixed(2)}x it, its own work ${cpu(last.cold.ownCpu)} CPU beside kustomize's ${cpu(last.cold.kustomizeCpu)}`,
    );
  }
  row(`check after a one-line change at ${last.overlays}`, ms(last.change.ms), `target <= 1.5 s: ${last.change.ms <= 1500 ? "within" : "OVER"}`);
  if (large.overlays === small.overlays) row("peak memory per added overlay", "n/a", "one fleet size measured (BENCH_FLEETS)");
  else {
    const perOverlay = (k: "cold" | "warm" | "change") => ((large[k].mb - small[k].mb) / (large.overlays - small.overlays)) * 1000;
    row("peak memory per added overlay", `${perOverlay("cold").toFixed(0)} / ${perOverlay("warm").toFixed(0)} / ${perOverlay("change").toFixed(0)} KB`, `cold / warm / change, from ${small.overlays} to ${large.overlays} overlays (the rendered objects are held for the rules: ${((large.cold.mb * 1024) / Math.max(1, large.objects)).toFixed(1)} KB per object at ${large.overlays})`);
  }
}

/** js-yaml and `yaml` on the same renders (in this process, CPU time), against the check's wall time. */
async function parsers(dirs: string[], coldMs: number, changeMs: number): Promise<void> {
  const { jsYamlStream } = await import("../tools/core/yaml.ts");
  const outputs = await mapLimit(dirs, (d) => render(d));
  const objects = outputs.reduce((n, o) => n + parseYamlStream(o, "bench").length, 0);
  const time = (fn: (text: string) => unknown, list: string[]) =>
    median(
      Array.from({ length: 3 }, () => {
        const since = process.cpuUsage();
        for (const o of list) fn(o);
        return cpuSeconds(since) * 1000;
      }),
    );
  time(jsYamlStream, outputs);
  const js = time(jsYamlStream, outputs);
  // `yaml` on a tenth of them (it is slow), scaled.
  const sample = outputs.filter((_, i) => i % 10 === 0);
  const full = (time((o) => parseYamlStreamFull(o, "bench"), sample) * outputs.length) / sample.length;
  row(`  parse all ${dirs.length} renders: js-yaml`, `${ms(js)} CPU`, `${rate((objects / js) * 1000)}; ${objects} objects; ${((js / coldMs) * 100).toFixed(1)}% of the cold check's wall time, one overlay's share (${(js / dirs.length).toFixed(1)} ms) after a one-line change`);
  row(`  parse all ${dirs.length} renders: yaml`, `${ms(full)} CPU`, `${rate((objects / full) * 1000)} (the full parser: errors with lines, positions for edits)`);
  void changeMs;
}

// ---------------------------------------------------------------------------------------------

// `pnpm bench` runs sections a-d; `pnpm bench b c` only those; `pnpm bench f` the fleets.
const only = new Set(args.positionals.map((a) => a.toLowerCase()));
const wanted = (section: string) => (only.size === 0 ? section !== "f" : only.has(section));
if (wanted("b")) await throughput();
if (wanted("a")) await checkVsRenders();
if (wanted("c")) await scaling();
if (wanted("d")) await bumpImage();
if (wanted("f")) await fleets();

const [load1, load5] = loadavg();
rows.unshift([`machine: ${availableParallelism()} cores, node ${process.version}, kustomize ${(await kustomizeBinary()).version}; load average now ${load1!.toFixed(1)} (5 min ${load5!.toFixed(1)}), at the start ${startLoad.toFixed(1)}`, "", ""]);
const width = Math.max(...rows.filter(([, v]) => v).map(([f]) => f.length));
const lines: string[] = ["", `pnpm bench (${((performance.now() - started) / 1000).toFixed(0)} s)`, ""];
for (const [figure, value, explanation] of rows) {
  if (figure.startsWith("## ")) lines.push("", figure.slice(3));
  else if (!value) lines.push(`  ${figure}`);
  else lines.push(`  ${figure.padEnd(width)}  ${value.padEnd(28)}  ${explanation}`);
}
process.stdout.write(`${lines.join("\n")}\n`);
