import type { components } from "./schema.js";
import {
  ApprovalCancelledError,
  ApprovalDeniedError,
  ApprovalExpiredError,
  ApprovalTimeoutError,
  OakallowError,
  OakallowNetworkError,
  ToolDisabledError,
  errorFromResponse,
  parseRetryAfter,
} from "./errors.js";

export type Schemas = components["schemas"];
type Params = Record<string, unknown>;

export interface OakallowOptions {
  /** Base URL, e.g. `http://127.0.0.1:8080` (default `process.env.OAKALLOW_URL`). */
  url?: string;
  /** API key (default `process.env.OAKALLOW_KEY`). */
  key?: string;
  /** Per-request timeout in ms (default 30 000; long-polls get their wait on top). */
  timeoutMs?: number;
  /** Retries of safe requests (default 3). */
  retries?: number;
  /** fetch implementation (default the global `fetch`). */
  fetch?: typeof fetch;
}

/** Management collections and their types (written, answered, patched). */
export interface Collections {
  tools: { spec: Schemas["ToolSpec"]; view: Schemas["ToolView"]; patch: Schemas["ToolPatch"] };
  categories: { spec: Schemas["CategorySpec"]; view: Schemas["CategoryView"]; patch: Schemas["CategoryPatch"] };
  tenants: { spec: Schemas["TenantSpec"]; view: Schemas["TenantView"]; patch: Schemas["TenantPatch"] };
  resources: { spec: Schemas["NamedSpec"]; view: Schemas["ResourceView"]; patch: Schemas["NamedPatch"] };
  methods: { spec: Schemas["NamedSpec"]; view: Schemas["MethodView"]; patch: Schemas["NamedPatch"] };
  rules: { spec: Schemas["RuleSpec"]; view: Schemas["RuleView"]; patch: Schemas["RulePatch"] };
}

export interface Page<T> {
  data: T[];
  next_cursor?: string | null;
}

export interface ListQuery {
  limit?: number;
  cursor?: string;
}

export interface Collection<K extends keyof Collections> {
  list(query?: ListQuery): Promise<Page<Collections[K]["view"]>>;
  /** Every object, following `next_cursor`. */
  listAll(query?: Omit<ListQuery, "cursor">): AsyncGenerator<Collections[K]["view"]>;
  create(body: Collections[K]["spec"]): Promise<Collections[K]["view"]>;
  get(id: string): Promise<Collections[K]["view"]>;
  update(id: string, patch: Collections[K]["patch"]): Promise<Collections[K]["view"]>;
  delete(id: string, options?: { cascade?: boolean }): Promise<void>;
}

export type ActivityQuery = {
  type?: Schemas["ActivityType"];
  tool?: string;
  tenant?: string;
  permission?: Schemas["Permission"];
  result?: string;
  since?: string;
  until?: string;
} & ListQuery;

export type ApprovalQuery = { status?: Schemas["ApprovalStatus"]; tool?: string; tenant?: string } & ListQuery;

/** A value, or a function of the guarded call's arguments giving it. */
type FromArgs<A extends unknown[], T> = T | ((...args: A) => T);

export interface GuardSpec<A extends unknown[]> {
  tool: string;
  tenant?: FromArgs<A, string | null | undefined>;
  resource?: FromArgs<A, string | null | undefined>;
  method?: FromArgs<A, string | null | undefined>;
  /** The params checked, bound into the token and logged (default: none). */
  params?: (...args: A) => Params | null | undefined;
  context?: FromArgs<A, Params | null | undefined>;
  /** Shown to the approver (default: "<tool> requested by an agent"). */
  reason?: FromArgs<A, string>;
  referenceId?: FromArgs<A, string | null | undefined>;
  /** Longest wait for an approver, in ms (default: until the approval expires). */
  maxWaitMs?: number;
  /** Approval timeout asked of oakallow, in seconds (clamped by the server to 60 s … 7 days). */
  approvalTimeoutSeconds?: number;
  /** Log the function's return value as the execution's `output` (default false). */
  logOutput?: boolean;
  /** Called with the approval as soon as the guard has asked for it (to tell a person its reference). */
  onApproval?: (approval: Schemas["ApprovalView"]) => void;
}

interface RequestOptions {
  query?: object;
  body?: unknown;
  headers?: Record<string, string>;
  /** Safe to send again (idempotent, or carries an Idempotency-Key). */
  retry?: boolean;
  timeoutMs?: number;
}

const RETRY_STATUSES = new Set([429, 502, 503, 504]);
const env = (name: string): string | undefined => (typeof process !== "undefined" ? process.env[name] : undefined);
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class Oakallow {
  readonly url: string;
  readonly timeoutMs: number;
  readonly retries: number;
  readonly #key: string;
  readonly #fetch: typeof fetch | undefined;

  constructor(options: OakallowOptions = {}) {
    const url = options.url ?? env("OAKALLOW_URL");
    const key = options.key ?? env("OAKALLOW_KEY");
    if (!url) throw new TypeError("oakallow: no url (pass `url` or set OAKALLOW_URL)");
    if (!key) throw new TypeError("oakallow: no key (pass `key` or set OAKALLOW_KEY)");
    this.url = url.replace(/\/+$/, "");
    this.#key = key;
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.retries = options.retries ?? 3;
    this.#fetch = options.fetch;
  }

  // ---- transport -------------------------------------------------------------------------

  /** Sends one API request; answers the parsed JSON (undefined for 204). */
  async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const url = new URL(this.url + path);
    for (const [name, value] of Object.entries(options.query ?? {}) as [string, unknown][]) {
      if (value !== undefined && value !== null) url.searchParams.set(name, String(value));
    }
    const headers: Record<string, string> = { "X-API-Key": this.#key, Accept: "application/json", ...options.headers };
    if (options.body !== undefined) headers["Content-Type"] = "application/json";
    const attempts = options.retry ? this.retries + 1 : 1;
    for (let attempt = 1; ; attempt++) {
      let error: OakallowError;
      let retryAfter: number | undefined;
      try {
        const response = await this.#send(url, method, headers, options);
        const text = await response.text();
        if (response.ok) return (text ? JSON.parse(text) : undefined) as T;
        error = errorFromResponse(response.status, text, response.headers);
        if (!RETRY_STATUSES.has(response.status)) throw error;
        retryAfter = parseRetryAfter(response.headers.get("retry-after"));
      } catch (e) {
        if (!(e instanceof OakallowNetworkError)) throw e;
        error = e;
      }
      if (attempt >= attempts) throw error;
      await sleep(backoff(attempt, retryAfter));
    }
  }

  async #send(url: URL, method: string, headers: Record<string, string>, options: RequestOptions): Promise<Response> {
    const timeout = options.timeoutMs ?? this.timeoutMs;
    const doFetch = this.#fetch ?? globalThis.fetch;
    try {
      return await doFetch(url, {
        method,
        headers,
        body: options.body === undefined ? undefined : JSON.stringify(options.body),
        signal: AbortSignal.timeout(timeout),
      });
    } catch (e) {
      const timedOut = e instanceof Error && (e.name === "TimeoutError" || e.name === "AbortError");
      throw new OakallowNetworkError(timedOut ? `no answer from ${url.origin} within ${timeout} ms` : `cannot reach ${url.origin}: ${String((e as Error)?.message ?? e)}`, e);
    }
  }

  // ---- runtime ---------------------------------------------------------------------------

  /** `POST /v1/check` (never retried). */
  check(body: Schemas["CheckRequest"]): Promise<Schemas["CheckResponse"]> {
    return this.request("POST", "/v1/check", { body });
  }

  /** `POST /v1/validate`: validates params against the tool's schema. */
  validate(body: Schemas["ValidateRequest"]): Promise<Schemas["ValidateResponse"]> {
    return this.request("POST", "/v1/validate", { body });
  }

  /** `POST /v1/tools/discover`. */
  discover(body: Schemas["DiscoverRequest"]): Promise<Schemas["DiscoverResponse"]> {
    return this.request("POST", "/v1/tools/discover", { body });
  }

  /**
   * `POST /v1/approvals` with an `Idempotency-Key` (generated per call unless given), so it is
   * retried safely: every retry answers the same approval.
   */
  requestApproval(body: Schemas["ApprovalRequest"], options: { idempotencyKey?: string } = {}): Promise<Schemas["ApprovalView"]> {
    const idempotencyKey = options.idempotencyKey ?? globalThis.crypto.randomUUID();
    return this.request("POST", "/v1/approvals", { body, headers: { "Idempotency-Key": idempotencyKey }, retry: true });
  }

  /** `GET /v1/approvals/{id}`; with `wait` (≤ 60 s), long-polls until it leaves `pending`. */
  getApproval(id: string, options: { wait?: number } = {}): Promise<Schemas["ApprovalView"]> {
    const wait = options.wait === undefined ? undefined : Math.max(0, Math.min(60, Math.ceil(options.wait)));
    return this.request("GET", `/v1/approvals/${encodeURIComponent(id)}`, {
      query: { wait },
      retry: true,
      timeoutMs: this.timeoutMs + (wait ?? 0) * 1000,
    });
  }

  /** `GET /v1/approvals` (approver or standard key). */
  listApprovals(query: ApprovalQuery = {}): Promise<Page<Schemas["ApprovalView"]>> {
    return this.request("GET", "/v1/approvals", { query, retry: true });
  }

  /**
   * Long-polls until the approval is decided, cancelled or expired, or `timeoutMs` passes;
   * answers the last read (still `pending` only when `timeoutMs` ran out).
   */
  async waitForApproval(id: string, options: { timeoutMs?: number } = {}): Promise<Schemas["ApprovalView"]> {
    const deadline = options.timeoutMs === undefined ? Infinity : Date.now() + options.timeoutMs;
    for (;;) {
      const left = deadline - Date.now();
      const approval = await this.getApproval(id, { wait: Math.max(0, Math.min(60, Math.ceil(left / 1000))) });
      if (approval.status !== "pending" || Date.now() >= deadline) return approval;
    }
  }

  /** `POST /v1/approvals/{id}/decide` (approver key; never retried). */
  decide(id: string, body: Schemas["DecideRequest"]): Promise<Schemas["ApprovalView"]> {
    return this.request("POST", `/v1/approvals/${encodeURIComponent(id)}/decide`, { body });
  }

  /** `POST /v1/approvals/{id}/cancel`. */
  cancelApproval(id: string): Promise<Schemas["ApprovalView"]> {
    return this.request("POST", `/v1/approvals/${encodeURIComponent(id)}/cancel`);
  }

  /** `POST /v1/tokens` from an allowed check or an approved approval (never retried). */
  mintToken(body: Schemas["MintRequest"]): Promise<Schemas["MintedTokenView"]> {
    return this.request("POST", "/v1/tokens", { body });
  }

  /** `POST /v1/tokens/verify` (consumes the token unless `consume: false`). */
  verifyToken(body: Schemas["VerifyRequest"]): Promise<Schemas["Verification"]> {
    return this.request("POST", "/v1/tokens/verify", { body });
  }

  /** `POST /v1/executions` (never retried). */
  logExecution(body: Schemas["ExecutionRequest"]): Promise<Schemas["ExecutionView"]> {
    return this.request("POST", "/v1/executions", { body });
  }

  /** `GET /v1/signing-keys`: the org's Ed25519 public keys, for `verifyTokenOffline`. */
  signingKeys(): Promise<Schemas["SigningKeyList"]> {
    return this.request("GET", "/v1/signing-keys", { retry: true });
  }

  // ---- management ------------------------------------------------------------------------

  /** CRUD on a management collection: `collection("tools").create({name: "refund"})`. */
  collection<K extends keyof Collections>(name: K): Collection<K> {
    const base = `/v1/${name}`;
    const item = (id: string) => `${base}/${encodeURIComponent(id)}`;
    const list = (query: ListQuery = {}) => this.request<Page<Collections[K]["view"]>>("GET", base, { query: { ...query }, retry: true });
    return {
      list,
      async *listAll(query = {}) {
        let cursor: string | undefined;
        do {
          const page = await list({ ...query, cursor });
          yield* page.data;
          cursor = page.next_cursor ?? undefined;
        } while (cursor);
      },
      create: (body) => this.request("POST", base, { body }),
      get: (id) => this.request("GET", item(id), { retry: true }),
      update: (id, patch) => this.request("PATCH", item(id), { body: patch }),
      delete: (id, options = {}) => this.request("DELETE", item(id), { query: { cascade: options.cascade || undefined }, retry: true }),
    };
  }

  get tools() {
    return this.collection("tools");
  }
  get rules() {
    return this.collection("rules");
  }

  /** `PUT /v1/policy` (`dryRun` only reports the diff). */
  applyPolicy(document: Schemas["PolicyDocument"], options: { dryRun?: boolean } = {}): Promise<Schemas["PolicyApplied"]> {
    return this.request("PUT", "/v1/policy", { body: document, query: { dry_run: options.dryRun || undefined }, retry: true });
  }

  /** `GET /v1/policy`. */
  exportPolicy(): Promise<Schemas["PolicyDocument"]> {
    return this.request("GET", "/v1/policy", { retry: true });
  }

  /**
   * `POST /v1/policy/simulate`: the recorded checks in the window decided again under `document`
   * (nothing is applied). It writes nothing, so it is retried.
   */
  simulatePolicy(
    document: Schemas["PolicyDocument"],
    options: { since?: string; until?: string; limit?: number } = {},
  ): Promise<Schemas["Simulation"]> {
    return this.request("POST", "/v1/policy/simulate", { body: { policy: document, ...options }, retry: true });
  }

  readonly keys = {
    list: (query: ListQuery = {}): Promise<Page<Schemas["ApiKey"]>> => this.request("GET", "/v1/keys", { query: { ...query }, retry: true }),
    /** The answer holds the key text, shown once. */
    create: (body: Schemas["CreateKeyRequest"]): Promise<Schemas["CreatedKey"]> => this.request("POST", "/v1/keys", { body }),
    get: (id: string): Promise<Schemas["ApiKey"]> => this.request("GET", `/v1/keys/${encodeURIComponent(id)}`, { retry: true }),
    revoke: (id: string): Promise<Schemas["ApiKey"]> => this.request("DELETE", `/v1/keys/${encodeURIComponent(id)}`, { retry: true }),
  };

  readonly org = {
    get: (): Promise<Schemas["Org"]> => this.request("GET", "/v1/org", { retry: true }),
    update: (patch: Schemas["OrgPatch"]): Promise<Schemas["Org"]> => this.request("PATCH", "/v1/org", { body: patch }),
    /** Slack, PagerDuty and e-mail without their secrets, and the Slack users linked to accounts. */
    notifications: (): Promise<Schemas["ChannelsView"]> => this.request("GET", "/v1/org/notifications", { retry: true }),
    /** Each channel given is set whole (`null` removes it); one left out stays. */
    updateNotifications: (patch: Schemas["ChannelsPatch"]): Promise<Schemas["ChannelsView"]> =>
      this.request("PATCH", "/v1/org/notifications", { body: patch }),
    unlinkSlackUser: (teamId: string, userId: string): Promise<void> =>
      this.request("DELETE", `/v1/org/notifications/slack-links/${encodeURIComponent(teamId)}/${encodeURIComponent(userId)}`, { retry: true }),
  };

  readonly activity = {
    /** Newest first. */
    list: (query: ActivityQuery = {}): Promise<Page<Schemas["ActivityEntry"]>> => this.request("GET", "/v1/activity", { query, retry: true }),
    get: (id: string): Promise<Schemas["ActivityEntry"]> => this.request("GET", `/v1/activity/${encodeURIComponent(id)}`, { retry: true }),
    /** Recomputes the org's hash chain. */
    verify: (): Promise<Schemas["ChainVerification"]> => this.request("GET", "/v1/activity/verify", { retry: true }),
  };

  // ---- guard -----------------------------------------------------------------------------

  /**
   * Wraps `fn` so that every call is checked first, waits for an approval when one is needed,
   * runs only with a token for exactly the params checked, and is logged as an execution.
   */
  guard<A extends unknown[], R>(spec: GuardSpec<A>, fn: (...args: A) => R | Promise<R>): (...args: A) => Promise<R> {
    const pick = <T>(value: FromArgs<A, T>, args: A): T => (typeof value === "function" ? (value as (...a: A) => T)(...args) : value);
    return async (...args: A): Promise<R> => {
      // A snapshot of the params: what is checked is exactly what the token binds and the log shows.
      const raw = spec.params?.(...args);
      const params = raw == null ? undefined : (JSON.parse(JSON.stringify(raw)) as Params);
      const call = {
        tool: spec.tool,
        tenant: pick(spec.tenant, args) ?? undefined,
        resource: pick(spec.resource, args) ?? undefined,
        method: pick(spec.method, args) ?? undefined,
      };
      const context = pick(spec.context, args) ?? undefined;
      const referenceId = pick(spec.referenceId, args) ?? undefined;
      const check = await this.check({ ...call, params, context, reference_id: referenceId, mint_token: true });

      let token: string;
      if (check.permission === "disabled") {
        throw new ToolDisabledError(403, "tool_disabled", `${spec.tool} is disabled (${check.resolved_from})`, { check_id: check.check_id });
      } else if (check.permission === "allowed") {
        token = check.token ?? (await this.mintToken({ check_id: check.check_id })).token;
      } else {
        const approval = await this.requestApproval({
          ...call,
          params,
          context,
          reference_id: referenceId,
          check_id: check.check_id,
          reason: pick(spec.reason, args) ?? `${spec.tool} requested by an agent`,
          timeout_seconds: spec.approvalTimeoutSeconds,
        });
        spec.onApproval?.(approval);
        const decided = await this.waitForApproval(approval.id, { timeoutMs: spec.maxWaitMs });
        throwUnlessApproved(decided);
        if (decided.status === "pending") {
          await this.cancelApproval(decided.id).catch(() => undefined);
          throw new ApprovalTimeoutError("approval_timeout", `no decision on ${decided.reference} within ${spec.maxWaitMs} ms`, decided);
        }
        token = (await this.mintToken({ approval_id: decided.id })).token;
      }

      const started = performance.now();
      let output: R;
      try {
        output = await fn(...args);
      } catch (e) {
        const message = e instanceof Error ? e.message : String(e);
        await this.logExecution({ ...call, token, params, result: "failed", duration_ms: elapsed(started), error: message.slice(0, 1000) || "failed" }).catch(() => undefined);
        throw e;
      }
      await this.logExecution({
        ...call,
        token,
        params,
        result: "success",
        duration_ms: elapsed(started),
        ...(spec.logOutput && output !== undefined ? { output } : {}),
      });
      return output;
    };
  }
}

function throwUnlessApproved(approval: Schemas["ApprovalView"]): void {
  const why = approval.note ? `: ${approval.note}` : "";
  switch (approval.status) {
    case "denied":
      throw new ApprovalDeniedError("approval_denied", `${approval.tool} was denied (${approval.reference})${why}`, approval);
    case "expired":
      throw new ApprovalExpiredError("approval_expired", `the approval ${approval.reference} expired undecided`, approval);
    case "cancelled":
      throw new ApprovalCancelledError("approval_cancelled", `the approval ${approval.reference} was cancelled${why}`, approval);
  }
}

const elapsed = (started: number) => Math.max(0, Math.round(performance.now() - started));

/** Exponential backoff with full jitter (250 ms doubling, at most 8 s); `Retry-After` is a floor. */
function backoff(attempt: number, retryAfterSeconds: number | undefined): number {
  const jittered = Math.random() * Math.min(8_000, 250 * 2 ** (attempt - 1));
  return retryAfterSeconds === undefined ? jittered : retryAfterSeconds * 1000 + jittered / 4;
}
