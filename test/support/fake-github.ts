// A local stand-in for api.github.com that holds every request to GitHub's own OpenAPI
// description: a request to an undocumented route, with an undocumented query parameter or with
// a body the schema rejects is answered like GitHub would (404/422) and listed in `violations`,
// so a test that expects no violations proves our calls match the real API, not just the fake.
import { readFile } from "node:fs/promises";
import { createServer, STATUS_CODES, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Ajv, type ValidateFunction } from "ajv";
import addFormats from "ajv-formats";

const SPEC_FILE = new URL("../../node_modules/@octokit/openapi/generated/api.github.com.json", import.meta.url);
const SPEC_ID = "https://api.github.com/openapi.json";

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  body: unknown;
  headers: IncomingHttpHeaders;
  /** GitHub's operationId, e.g. "pulls/create"; undefined when no documented route matched. */
  operationId?: string;
}

export interface FakeResponse {
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
  /** Faults: send these bytes as the body instead of JSON (a garbled 200). */
  raw?: string;
  /** Faults: accept the request and never answer (the connection stays open until close()). */
  hang?: boolean;
}

export interface FakePull {
  number: number;
  title: string;
  body: string | null;
  state: "open" | "closed";
  head: string;
  /** Owner of the head branch; differs from the repository owner for forks. */
  headOwner: string;
  base: string;
  labels: string[];
  createdAt: string;
  updatedAt: string;
  closedAt: string | null;
}

export interface FakeComment {
  id: number;
  issueNumber: number;
  body: string;
  createdAt: string;
  updatedAt: string;
}

export interface FakeStatus {
  id: number;
  sha: string;
  context: string;
  state: "error" | "failure" | "pending" | "success";
  description: string | null;
  createdAt: string;
}

export interface FakeCheckRun {
  id: number;
  sha: string;
  name: string;
  status: "queued" | "in_progress" | "completed";
  conclusion: "success" | "failure" | "neutral" | "cancelled" | "skipped" | "timed_out" | "action_required" | null;
}

export interface FakeGitHub {
  /** Base URL to pass as `baseUrl`. */
  url: string;
  requests: RecordedRequest[];
  violations: string[];
  pulls: FakePull[];
  comments: FakeComment[];
  /** Commit statuses, oldest first (what repos/create-commit-status posted, and seeded ones). */
  statuses: FakeStatus[];
  checkRuns: FakeCheckRun[];
  /** Seeds a commit status as if a CI system had posted it. */
  addStatus(status: { sha: string; context: string; state: FakeStatus["state"]; description?: string }): FakeStatus;
  /** Seeds a check run as if a GitHub App (Actions) had reported it. */
  addCheckRun(run: { sha: string; name: string; status?: FakeCheckRun["status"]; conclusion?: FakeCheckRun["conclusion"] }): FakeCheckRun;
  /** Seeds a pull request as if someone had opened it earlier. */
  addPull(pull: { head: string; base?: string; title?: string; body?: string; headOwner?: string; state?: "open" | "closed" }): FakePull;
  /**
   * Answers the next `count` requests with `response` instead of serving them. With `only` (an
   * operationId such as "pulls/create", or a predicate) other requests are served as usual.
   */
  failNext(count: number, response: FakeResponse, only?: string | ((request: RecordedRequest) => boolean)): void;
  close(): Promise<void>;
}

// ---------------------------------------------------------------- the OpenAPI description

interface Parameter {
  name: string;
  in: string;
  required?: boolean;
  schema?: { type?: string; enum?: unknown[] };
}

interface Operation {
  method: string;
  template: string;
  operationId: string;
  regex: RegExp;
  pathNames: string[];
  literals: number;
  parameters: Parameter[];
  requestBody?: { required?: boolean; content?: Record<string, { schema?: Record<string, unknown> }> };
  validate?: ValidateFunction;
}

interface Spec {
  byMethod: Map<string, Operation[]>;
  ajv: Ajv;
  resolve<T>(value: T | { $ref: string }): T;
}

const METHODS = ["get", "put", "post", "delete", "patch", "head", "options"];
let specPromise: Promise<Spec> | undefined;

// Parsing 13 MB of JSON takes a noticeable fraction of a second: once per process is enough.
function loadSpec(): Promise<Spec> {
  specPromise ??= readFile(SPEC_FILE, "utf8").then((text) => indexSpec(JSON.parse(text)));
  return specPromise;
}

function indexSpec(doc: { paths: Record<string, Record<string, unknown>>; components: Record<string, Record<string, unknown>> }): Spec {
  const resolve = <T>(value: T | { $ref: string }): T => {
    const ref = (value as { $ref?: string }).$ref;
    if (!ref) return value as T;
    const [, , kind, name] = ref.split("/");
    return resolve(doc.components[kind ?? ""]?.[name ?? ""] as T);
  };
  const byMethod = new Map<string, Operation[]>();
  for (const [template, item] of Object.entries(doc.paths)) {
    const shared = ((item.parameters as Parameter[] | undefined) ?? []).map(resolve);
    for (const method of METHODS) {
      const op = item[method] as { operationId: string; parameters?: Parameter[]; requestBody?: unknown } | undefined;
      if (!op) continue;
      const segments = template.split("/");
      const list = byMethod.get(method.toUpperCase()) ?? [];
      list.push({
        method: method.toUpperCase(),
        template,
        operationId: op.operationId,
        regex: new RegExp(`^${segments.map((s) => (s.startsWith("{") ? "([^/]+)" : escape(s))).join("/")}$`),
        pathNames: segments.filter((s) => s.startsWith("{")).map((s) => s.slice(1, -1)),
        literals: segments.filter((s) => s && !s.startsWith("{")).length,
        parameters: [...shared, ...(op.parameters ?? []).map(resolve)],
        requestBody: op.requestBody ? resolve(op.requestBody as NonNullable<Operation["requestBody"]>) : undefined,
      });
      byMethod.set(method.toUpperCase(), list);
    }
  }
  // /pulls/comments must win over /pulls/{pull_number}, as on GitHub.
  for (const list of byMethod.values()) list.sort((a, b) => b.literals - a.literals);

  const ajv = new Ajv({ strict: false, allErrors: true, logger: false });
  addFormats.default(ajv);
  ajv.addSchema({ $id: SPEC_ID, components: doc.components });
  return { byMethod, ajv, resolve };
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

function matches(value: string, schema: Parameter["schema"]): boolean {
  if (!schema) return true;
  if (schema.enum && !schema.enum.map(String).includes(value)) return false;
  if (schema.type === "integer") return /^-?\d+$/.test(value);
  if (schema.type === "number") return value.trim() !== "" && !Number.isNaN(Number(value));
  if (schema.type === "boolean") return value === "true" || value === "false";
  return true;
}

function findOperation(spec: Spec, method: string, path: string) {
  for (const op of spec.byMethod.get(method) ?? []) {
    const m = op.regex.exec(path);
    if (!m) continue;
    const params = Object.fromEntries(op.pathNames.map((name, i) => [name, decodeURIComponent(m[i + 1] ?? "")]));
    const typed = op.pathNames.every((name) => matches(params[name] ?? "", op.parameters.find((p) => p.in === "path" && p.name === name)?.schema));
    if (typed) return { op, params };
  }
  return undefined;
}

// Points the operation's local $refs at the copy of `components` registered with ajv.
function rebase(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(rebase);
  if (typeof schema !== "object" || schema === null) return schema;
  return Object.fromEntries(
    Object.entries(schema).map(([k, v]) => [k, k === "$ref" && typeof v === "string" && v.startsWith("#/") ? SPEC_ID + v : rebase(v)]),
  );
}

/** Every way the request departs from the operation's description; empty when it conforms. */
function checkRequest(spec: Spec, op: Operation, query: URLSearchParams, rawBody: string, contentType: string | undefined): { problems: string[]; body: unknown } {
  const problems: string[] = [];
  for (const [name, value] of query) {
    const param = op.parameters.find((p) => p.in === "query" && p.name === name);
    if (!param) problems.push(`query parameter "${name}" is not documented`);
    else if (!matches(value, param.schema)) problems.push(`query parameter "${name}"="${value}" does not match ${JSON.stringify(param.schema)}`);
  }
  for (const param of op.parameters) {
    if (param.in === "query" && param.required && !query.has(param.name)) problems.push(`query parameter "${param.name}" is required`);
  }

  const schema = op.requestBody?.content?.["application/json"]?.schema;
  if (rawBody === "") {
    if (op.requestBody?.required) problems.push("a request body is required");
    return { problems, body: undefined };
  }
  if (!op.requestBody) return { problems: [...problems, "this operation takes no request body"], body: rawBody };
  if (!schema) return { problems, body: rawBody };
  if (!contentType?.startsWith("application/json")) problems.push(`content-type ${contentType ?? "(none)"} is not application/json`);
  let body: unknown;
  try {
    body = JSON.parse(rawBody);
  } catch {
    return { problems: [...problems, "the body is not valid JSON"], body: rawBody };
  }
  op.validate ??= spec.ajv.compile(rebase(schema) as object);
  if (!op.validate(body)) {
    for (const e of op.validate.errors ?? []) problems.push(`body${e.instancePath} ${e.message ?? "is invalid"}`);
  }
  // GitHub ignores unknown fields, which hides typos; a documented body lists all it reads.
  const known = schema.properties as Record<string, unknown> | undefined;
  if (known && typeof body === "object" && body !== null && !Array.isArray(body)) {
    for (const key of Object.keys(body)) if (!(key in known)) problems.push(`body field "${key}" is not documented`);
  }
  return { problems, body };
}

// ---------------------------------------------------------------- the server

export async function startFakeGitHub(options: { owner: string; repo: string; token?: string }): Promise<FakeGitHub> {
  const spec = await loadSpec();
  const { owner, repo, token } = options;
  const requests: RecordedRequest[] = [];
  const violations: string[] = [];
  const pulls: FakePull[] = [];
  const comments: FakeComment[] = [];
  const statuses: FakeStatus[] = [];
  const checkRuns: FakeCheckRun[] = [];
  let nextStatusId = 7001;
  let nextRunId = 9001;
  const failures: Array<{ response: FakeResponse; only: (request: RecordedRequest) => boolean }> = [];
  const hanging = new Set<ServerResponse>();
  let nextNumber = 1;
  let nextCommentId = 1001;
  let url = "";

  const now = () => new Date().toISOString();
  const user = { login: "ringlet-bot", id: 41898282, type: "Bot", html_url: "https://github.com/apps/ringlet-bot" };
  const repoJson = () => ({
    id: 1296269,
    node_id: "R_1",
    name: repo,
    full_name: `${owner}/${repo}`,
    private: true,
    owner: { login: owner, id: 1, type: "Organization" },
    html_url: `https://github.com/${owner}/${repo}`,
    url: `${url}/repos/${owner}/${repo}`,
    default_branch: "main",
  });
  const pullJson = (p: FakePull) => ({
    url: `${url}/repos/${owner}/${repo}/pulls/${p.number}`,
    id: 5000 + p.number,
    node_id: `PR_${p.number}`,
    html_url: `https://github.com/${owner}/${repo}/pull/${p.number}`,
    issue_url: `${url}/repos/${owner}/${repo}/issues/${p.number}`,
    number: p.number,
    state: p.state,
    locked: false,
    title: p.title,
    body: p.body,
    user,
    labels: p.labels.map(labelJson),
    draft: false,
    merged: false,
    merged_at: null,
    created_at: p.createdAt,
    updated_at: p.updatedAt,
    closed_at: p.closedAt,
    head: { label: `${p.headOwner}:${p.head}`, ref: p.head, sha: "0".repeat(40), user: { login: p.headOwner }, repo: p.headOwner === owner ? repoJson() : null },
    base: { label: `${owner}:${p.base}`, ref: p.base, sha: "1".repeat(40), user: { login: owner }, repo: repoJson() },
  });
  const commentJson = (c: FakeComment) => ({
    id: c.id,
    node_id: `IC_${c.id}`,
    url: `${url}/repos/${owner}/${repo}/issues/comments/${c.id}`,
    html_url: `https://github.com/${owner}/${repo}/pull/${c.issueNumber}#issuecomment-${c.id}`,
    issue_url: `${url}/repos/${owner}/${repo}/issues/${c.issueNumber}`,
    body: c.body,
    user,
    author_association: "NONE",
    created_at: c.createdAt,
    updated_at: c.updatedAt,
  });

  const addPull: FakeGitHub["addPull"] = (p) => {
    const pull: FakePull = {
      number: nextNumber++,
      title: p.title ?? `Update ${p.head}`,
      body: p.body ?? null,
      state: p.state ?? "open",
      head: p.head,
      headOwner: p.headOwner ?? owner,
      base: p.base ?? "main",
      labels: [],
      createdAt: now(),
      updatedAt: now(),
      closedAt: p.state === "closed" ? now() : null,
    };
    pulls.push(pull);
    return pull;
  };

  const addStatus: FakeGitHub["addStatus"] = (x) => {
    const status: FakeStatus = { id: nextStatusId++, sha: x.sha, context: x.context, state: x.state, description: x.description ?? null, createdAt: now() };
    statuses.push(status);
    return status;
  };
  const addCheckRun: FakeGitHub["addCheckRun"] = (x) => {
    const status = x.status ?? "completed";
    const run: FakeCheckRun = { id: nextRunId++, sha: x.sha, name: x.name, status, conclusion: status === "completed" ? (x.conclusion ?? "success") : null };
    checkRuns.push(run);
    return run;
  };
  const statusJson = (st: FakeStatus) => ({
    url: `${url}/repos/${owner}/${repo}/statuses/${st.sha}`,
    avatar_url: null,
    id: st.id,
    node_id: `SC_${st.id}`,
    state: st.state,
    description: st.description,
    target_url: null,
    context: st.context,
    created_at: st.createdAt,
    updated_at: st.createdAt,
    creator: user,
  });
  const checkRunJson = (r: FakeCheckRun) => ({
    id: r.id,
    node_id: `CR_${r.id}`,
    head_sha: r.sha,
    name: r.name,
    external_id: null,
    url: `${url}/repos/${owner}/${repo}/check-runs/${r.id}`,
    html_url: `https://github.com/${owner}/${repo}/runs/${r.id}`,
    details_url: null,
    status: r.status,
    conclusion: r.conclusion,
    started_at: now(),
    completed_at: r.status === "completed" ? now() : null,
    output: { title: null, summary: null, text: null, annotations_count: 0, annotations_url: "" },
    check_suite: { id: 1 },
    app: null,
    pull_requests: [],
  });
  // GitHub's combined state: failure if any latest status is error/failure, pending if any is
  // pending or there are none, success otherwise.
  const combinedJson = (sha: string) => {
    const latest = new Map<string, FakeStatus>();
    for (const st of statuses.filter((x) => x.sha === sha)) latest.set(st.context, st);
    const list = [...latest.values()];
    const state = list.some((x) => x.state === "error" || x.state === "failure") ? "failure" : list.length === 0 || list.some((x) => x.state === "pending") ? "pending" : "success";
    return { state, sha, total_count: list.length, statuses: list.map((x) => ({ ...statusJson(x), creator: undefined })), repository: repoJson(), commit_url: `${url}/repos/${owner}/${repo}/commits/${sha}`, url: `${url}/repos/${owner}/${repo}/commits/${sha}/status` };
  };

  type Reply = FakeResponse;
  const notFound: Reply = { status: 404, body: { message: "Not Found", documentation_url: "https://docs.github.com/rest" } };
  const invalid = (message: string, errors?: unknown[]): Reply => ({ status: 422, body: { message, errors, documentation_url: "https://docs.github.com/rest" } });

  // One handler per operationId; a documented operation without one is a gap in the fake.
  const handlers: Record<string, (params: Record<string, string>, query: URLSearchParams, body: any, path: string) => Reply> = {
    "repos/get": () => ({ status: 200, body: repoJson() }),
    "pulls/list": (_p, q, _b, path) => {
      const state = q.get("state") ?? "open";
      const head = q.get("head");
      const base = q.get("base");
      // As on GitHub, a head filter without "owner:" is ignored rather than rejected.
      const [headOwner, headRef] = head?.includes(":") ? (head.split(/:(.*)/s) as [string, string]) : [];
      const list = pulls
        .filter((p) => state === "all" || p.state === state)
        .filter((p) => headRef === undefined || (p.head === headRef && p.headOwner.toLowerCase() === headOwner?.toLowerCase()))
        .filter((p) => !base || p.base === base)
        .sort((a, b) => b.number - a.number);
      return paginate(list.map(pullJson), q, path);
    },
    "pulls/create": (_p, _q, b) => {
      const [headOwner, head] = String(b.head).includes(":") ? (String(b.head).split(/:(.*)/s) as [string, string]) : [owner, String(b.head)];
      if (b.title === undefined && b.issue === undefined) return invalid("Validation Failed", [{ resource: "PullRequest", field: "title", code: "missing_field" }]);
      if (head === b.base && headOwner === owner) return invalid("Validation Failed", [{ resource: "PullRequest", code: "custom", message: `No commits between ${b.base} and ${head}` }]);
      if (pulls.some((p) => p.state === "open" && p.head === head && p.headOwner === headOwner && p.base === b.base)) {
        return invalid("Validation Failed", [{ resource: "PullRequest", code: "custom", message: `A pull request already exists for ${headOwner}:${head}.` }]);
      }
      const pull = addPull({ head, headOwner, base: b.base, title: b.title, body: b.body ?? "" });
      return { status: 201, body: pullJson(pull) };
    },
    "pulls/get": (p) => {
      const pull = pulls.find((x) => x.number === Number(p.pull_number));
      return pull ? { status: 200, body: pullJson(pull) } : notFound;
    },
    "pulls/update": (p, _q, b) => {
      const pull = pulls.find((x) => x.number === Number(p.pull_number));
      if (!pull) return notFound;
      if (b.title !== undefined) pull.title = b.title;
      if (b.body !== undefined) pull.body = b.body;
      if (b.base !== undefined) pull.base = b.base;
      if (b.state !== undefined && b.state !== pull.state) {
        pull.state = b.state;
        pull.closedAt = b.state === "closed" ? now() : null;
      }
      pull.updatedAt = now();
      return { status: 200, body: pullJson(pull) };
    },
    "issues/add-labels": (p, _q, b) => {
      const pull = pulls.find((x) => x.number === Number(p.issue_number));
      if (!pull) return notFound;
      const given: unknown[] = Array.isArray(b) ? b : (b?.labels ?? []);
      for (const label of given.map((l) => (typeof l === "string" ? l : String((l as { name: string }).name)))) {
        if (!pull.labels.includes(label)) pull.labels.push(label);
      }
      return { status: 200, body: pull.labels.map(labelJson) };
    },
    "issues/list-comments": (p, q, _b, path) => {
      const list = comments.filter((c) => c.issueNumber === Number(p.issue_number)).sort((a, b) => a.id - b.id);
      return paginate(list.map(commentJson), q, path);
    },
    "issues/create-comment": (p, _q, b) => {
      if (!pulls.some((x) => x.number === Number(p.issue_number))) return notFound;
      const comment = { id: nextCommentId++, issueNumber: Number(p.issue_number), body: b.body, createdAt: now(), updatedAt: now() };
      comments.push(comment);
      return { status: 201, body: commentJson(comment) };
    },
    "repos/get-combined-status-for-ref": (p) => ({ status: 200, body: combinedJson(p.ref!) }),
    "checks/list-for-ref": (p, q, _b, path) => {
      const name = q.get("check_name");
      const list = checkRuns.filter((r) => r.sha === p.ref && (name === null || r.name === name)).sort((a, b) => b.id - a.id);
      const page = paginate(list.map(checkRunJson), q, path);
      // This endpoint wraps its page in an object; Octokit's paginate unwraps it.
      return { ...page, body: { total_count: list.length, check_runs: page.body } };
    },
    "repos/create-commit-status": (p, _q, b) => {
      if (!/^[0-9a-f]{40}$/.test(p.sha ?? "")) return invalid("Validation Failed", [{ resource: "Status", field: "sha", code: "invalid" }]);
      const st = addStatus({ sha: p.sha!, context: b.context ?? "default", state: b.state, description: b.description ?? undefined });
      return { status: 201, body: statusJson(st) };
    },
    "issues/update-comment": (p, _q, b) => {
      const comment = comments.find((c) => c.id === Number(p.comment_id));
      if (!comment) return notFound;
      comment.body = b.body;
      comment.updatedAt = now();
      return { status: 200, body: commentJson(comment) };
    },
  };

  // GitHub paginates with per_page/page and a Link header; Octokit's paginate follows rel="next".
  function paginate(items: unknown[], q: URLSearchParams, path: string): Reply {
    const perPage = Math.min(Number(q.get("per_page") ?? 30), 100);
    const page = Math.max(Number(q.get("page") ?? 1), 1);
    const last = Math.max(Math.ceil(items.length / perPage), 1);
    const link = (n: number, rel: string) => {
      const next = new URLSearchParams(q);
      next.set("page", String(n));
      return `<${url}${path}?${next}>; rel="${rel}"`;
    };
    const links = page < last ? [link(page + 1, "next"), link(last, "last")] : [];
    return { status: 200, headers: links.length ? { link: links.join(", ") } : {}, body: items.slice((page - 1) * perPage, page * perPage) };
  }

  function serve(method: string, path: string, query: URLSearchParams, rawBody: string, headers: IncomingHttpHeaders): Reply {
    const record: RecordedRequest = { method, path, query: Object.fromEntries(query), body: undefined, headers };
    requests.push(record);
    const found = findOperation(spec, method, path);
    if (!found) {
      record.body = rawBody ? safeJson(rawBody) : undefined;
      violations.push(`${method} ${path}: no documented GitHub operation`);
      return notFound;
    }
    const { op, params } = found;
    record.operationId = op.operationId;
    const { problems, body } = checkRequest(spec, op, query, rawBody, headers["content-type"]);
    record.body = body;
    if (problems.length > 0) {
      violations.push(...problems.map((p) => `${method} ${path} (${op.operationId}): ${p}`));
      return invalid(`Invalid request.\n\n${problems.join("\n")}`);
    }
    const auth = headers.authorization ?? "";
    if (token !== undefined && auth !== `token ${token}` && auth !== `Bearer ${token}`) {
      return { status: 401, body: { message: "Bad credentials", documentation_url: "https://docs.github.com/rest", status: "401" } };
    }
    const failure = failures.findIndex((f) => f.only(record));
    if (failure >= 0) return failures.splice(failure, 1)[0]!.response;
    if (params.owner?.toLowerCase() !== owner.toLowerCase() || params.repo?.toLowerCase() !== repo.toLowerCase()) return notFound;
    const handler = handlers[op.operationId];
    if (!handler) {
      violations.push(`${method} ${path} (${op.operationId}): documented, but the fake does not implement it`);
      return { status: 501, body: { message: `fake GitHub does not implement ${op.operationId}` } };
    }
    return handler(params, query, body, path);
  }

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const target = new URL(req.url ?? "/", "http://fake");
      let reply: Reply;
      try {
        reply = serve(req.method ?? "GET", target.pathname, target.searchParams, Buffer.concat(chunks).toString("utf8"), req.headers);
      } catch (error) {
        violations.push(`fake GitHub crashed on ${req.method} ${req.url}: ${String(error)}`);
        reply = { status: 500, body: { message: "fake GitHub crashed" } };
      }
      if (reply.hang) {
        hanging.add(res);
        return;
      }
      const body = reply.body === undefined ? { message: STATUS_CODES[reply.status] ?? "Error" } : reply.body;
      if (reply.raw !== undefined) {
        res.writeHead(reply.status, { "content-type": "application/json; charset=utf-8", ...reply.headers });
        res.end(reply.raw);
        return;
      }
      res.writeHead(reply.status, { "content-type": "application/json; charset=utf-8", "x-github-request-id": `FAKE:${requests.length}`, ...reply.headers });
      res.end(reply.status === 204 ? undefined : JSON.stringify(body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    url,
    requests,
    violations,
    pulls,
    comments,
    statuses,
    checkRuns,
    addStatus,
    addCheckRun,
    addPull,
    failNext(count, response, only) {
      const test = typeof only === "function" ? only : (r: RecordedRequest) => only === undefined || r.operationId === only;
      for (let i = 0; i < count; i++) failures.push({ response, only: test });
    },
    async close() {
      if (!server.listening) return;
      for (const res of hanging) res.destroy();
      // Octokit's fetch keeps connections alive; close() alone would wait for them to idle out.
      server.closeAllConnections();
      await new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
    },
  };
}

function labelJson(name: string) {
  return { id: name.length, node_id: `LA_${name}`, url: "", name, color: "ededed", default: false, description: null };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
