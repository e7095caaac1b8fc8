import type { components } from "./schema.js";

type ApprovalView = components["schemas"]["ApprovalView"];

/** Any error answered by oakallow (`{"error": {code, message, details}}`), or raised by the SDK. */
export class OakallowError extends Error {
  readonly status: number;
  readonly code: string;
  readonly details: Record<string, unknown>;
  /** `X-Request-Id` of the failed response, when there was one. */
  readonly requestId: string | undefined;

  constructor(status: number, code: string, message: string, details: Record<string, unknown> = {}, requestId?: string) {
    super(message);
    this.name = new.target.name;
    this.status = status;
    this.code = code;
    this.details = details;
    this.requestId = requestId;
  }
}

export class InvalidRequestError extends OakallowError {}
export class UnauthenticatedError extends OakallowError {}
export class InsufficientCreditsError extends OakallowError {}
export class ForbiddenTierError extends OakallowError {}
/** The call resolves to `disabled` (from the API, or from `guard` when a check says so). */
export class ToolDisabledError extends OakallowError {}
export class NotFoundError extends OakallowError {}
export class ToolNotFoundError extends OakallowError {}
export class MethodNotAllowedError extends OakallowError {}
export class ConflictError extends OakallowError {}
export class ApprovalNotPendingError extends OakallowError {}
/** A token cannot be minted or does not authorize an execution; see `reason`. */
export class NotAuthorizedError extends OakallowError {
  get reason(): string | undefined {
    return typeof this.details.reason === "string" ? this.details.reason : undefined;
  }
}
export class TokenUsedError extends OakallowError {}
export class PayloadTooLargeError extends OakallowError {}
/** Params do not satisfy the tool's schema; `errors` lists `{path, message}`. */
export class InvalidParamsError extends OakallowError {
  get errors(): { path: string; message: string }[] {
    return Array.isArray(this.details.errors) ? (this.details.errors as { path: string; message: string }[]) : [];
  }
}
export class RateLimitedError extends OakallowError {
  /** Seconds to wait before retrying (from `Retry-After` or `details.retry_after_seconds`). */
  readonly retryAfter: number | undefined;
  constructor(status: number, code: string, message: string, details: Record<string, unknown> = {}, requestId?: string, retryAfter?: number) {
    super(status, code, message, details, requestId);
    const fromDetails = typeof details.retry_after_seconds === "number" ? details.retry_after_seconds : undefined;
    this.retryAfter = retryAfter ?? fromDetails;
  }
}
export class InternalError extends OakallowError {}
export class UnavailableError extends OakallowError {}

/** The server could not be reached, or did not answer within `timeoutMs` (status 0). */
export class OakallowNetworkError extends OakallowError {
  constructor(message: string, cause?: unknown) {
    super(0, "network_error", message);
    if (cause !== undefined) (this as { cause?: unknown }).cause = cause;
  }
}

/** A guarded call's approval ended without `approved`: see the subclasses. */
export class ApprovalError extends OakallowError {
  readonly approval: ApprovalView;
  constructor(code: string, message: string, approval: ApprovalView) {
    super(0, code, message, { approval_id: approval.id, reference: approval.reference, status: approval.status });
    this.approval = approval;
  }
  get approvalId(): string {
    return this.approval.id;
  }
  get reference(): string {
    return this.approval.reference;
  }
  /** The approver's note (for a denial, what to tell the model). */
  get note(): string | null {
    return this.approval.note ?? null;
  }
}
export class ApprovalDeniedError extends ApprovalError {}
export class ApprovalExpiredError extends ApprovalError {}
export class ApprovalCancelledError extends ApprovalError {}
/** The approval was still pending when the guard's `maxWaitMs` ran out (it is then cancelled). */
export class ApprovalTimeoutError extends ApprovalError {}

type ErrorClass = new (status: number, code: string, message: string, details?: Record<string, unknown>, requestId?: string) => OakallowError;

const BY_CODE: Record<string, ErrorClass> = {
  invalid_request: InvalidRequestError,
  unauthenticated: UnauthenticatedError,
  insufficient_credits: InsufficientCreditsError,
  forbidden_tier: ForbiddenTierError,
  tool_disabled: ToolDisabledError,
  not_found: NotFoundError,
  tool_not_found: ToolNotFoundError,
  method_not_allowed: MethodNotAllowedError,
  conflict: ConflictError,
  approval_not_pending: ApprovalNotPendingError,
  not_authorized: NotAuthorizedError,
  token_used: TokenUsedError,
  payload_too_large: PayloadTooLargeError,
  invalid_params: InvalidParamsError,
  rate_limited: RateLimitedError,
  internal: InternalError,
  unavailable: UnavailableError,
};

/** Builds the error for an HTTP error response (body already read as text). */
export function errorFromResponse(status: number, text: string, headers: Headers): OakallowError {
  let code = `http_${status}`;
  let message = text.slice(0, 500) || `HTTP ${status}`;
  let details: Record<string, unknown> = {};
  try {
    const body = JSON.parse(text) as { error?: { code?: unknown; message?: unknown; details?: unknown } };
    if (body && typeof body.error === "object" && body.error) {
      if (typeof body.error.code === "string") code = body.error.code;
      if (typeof body.error.message === "string") message = body.error.message;
      if (body.error.details && typeof body.error.details === "object") details = body.error.details as Record<string, unknown>;
    }
  } catch {
    // not JSON (e.g. a proxy's page): keep the status-derived code
  }
  const requestId = headers.get("x-request-id") ?? undefined;
  if (code === "rate_limited") {
    return new RateLimitedError(status, code, message, details, requestId, parseRetryAfter(headers.get("retry-after")));
  }
  const Class = BY_CODE[code] ?? OakallowError;
  return new Class(status, code, message, details, requestId);
}

/** `Retry-After` as seconds (delta-seconds or an HTTP date), or undefined. */
export function parseRetryAfter(value: string | null): number | undefined {
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, (date - Date.now()) / 1000);
}
