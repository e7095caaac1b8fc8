import { createHash, createHmac, createPublicKey, timingSafeEqual, verify as cryptoVerify } from "node:crypto";
import type { components } from "./schema.js";

type Claims = components["schemas"]["Claims"];
type PublicKey = components["schemas"]["PublicKey"];
type SigningKeyList = components["schemas"]["SigningKeyList"];

/**
 * oakallow's canonical JSON (DECISIONS.md, "Audit chain"): object keys sorted by Unicode code
 * point at every depth, no whitespace, serde_json's minimal string escaping, integral numbers
 * (below 2^53) written as integers, other numbers in serde_json's shortest form.
 */
export function canonicalJson(value: unknown): string {
  if (value === null) return "null";
  if (value === true) return "true";
  if (value === false) return "false";
  if (typeof value === "number") return canonicalNumber(value);
  if (typeof value === "string") return JSON.stringify(value); // same escaping as serde_json
  if (Array.isArray(value)) return "[" + value.map(canonicalJson).join(",") + "]";
  if (typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
    entries.sort(([a], [b]) => compareCodePoints(a, b));
    return "{" + entries.map(([k, v]) => JSON.stringify(k) + ":" + canonicalJson(v)).join(",") + "}";
  }
  throw new TypeError(`cannot encode a ${typeof value} as JSON`);
}

/** Hex SHA-256 of the canonical JSON of `params` (absent params hash as `{}`). */
export function paramsSha256(params: Record<string, unknown> | null | undefined): string {
  return createHash("sha256").update(canonicalJson(params ?? {}), "utf8").digest("hex");
}

function compareCodePoints(a: string, b: string): number {
  const x = Array.from(a, (c) => c.codePointAt(0)!);
  const y = Array.from(b, (c) => c.codePointAt(0)!);
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
  return x.length - y.length;
}

function canonicalNumber(x: number): string {
  if (!Number.isFinite(x)) throw new TypeError(`${x} is not JSON`);
  if (Number.isInteger(x) && Math.abs(x) < 2 ** 53) return String(x === 0 ? 0 : x);
  // shortest round-trip digits, laid out as ryu (serde_json) does
  const [mantissa, exp] = Math.abs(x).toExponential().split("e") as [string, string];
  const digits = mantissa.replace(".", "");
  const point = Number(exp) + 1; // position of the decimal point relative to the digits
  const sign = x < 0 ? "-" : "";
  if (point >= digits.length && point <= 16) return sign + digits + "0".repeat(point - digits.length) + ".0";
  if (point > 0 && point <= 16) return sign + digits.slice(0, point) + "." + digits.slice(point);
  if (point > -5 && point <= 0) return sign + "0." + "0".repeat(-point) + digits;
  const power = point - 1;
  return sign + digits[0] + (digits.length > 1 ? "." + digits.slice(1) : "") + "e" + (power >= 0 ? "+" : "-") + Math.abs(power);
}

export type OfflineRejection =
  | "malformed"
  | "unknown_key"
  | "bad_signature"
  | "wrong_org"
  | "tool_mismatch"
  | "tenant_mismatch"
  | "resource_mismatch"
  | "method_mismatch"
  | "params_mismatch"
  | "expired";

export type OfflineVerification =
  | { valid: true; reason: null; claims: Claims }
  | { valid: false; reason: OfflineRejection; claims: Claims | null };

export interface OfflineVerifyOptions {
  /** Trusted Ed25519 keys: the answer of `GET /v1/signing-keys` (or its `keys`). */
  signingKeys?: SigningKeyList | PublicKey[];
  /** The org's HMAC-SHA256 secret (oakallow never publishes it; only for self-hosted setups). */
  hmacKey?: { kid: string; secret: Uint8Array | string };
  /** The org this tool server serves (`org_…`). */
  org: string;
  /** The call about to run: each is compared exactly; a missing tenant/resource/method means none. */
  tool: string;
  tenant?: string | null;
  resource?: string | null;
  method?: string | null;
  params?: Record<string, unknown> | null;
  /** Current time (Date or Unix seconds); defaults to now. */
  now?: Date | number;
}

const B64URL = /^[A-Za-z0-9_-]+$/;

function decodeB64url(text: string): Buffer | null {
  if (!B64URL.test(text)) return null;
  const bytes = Buffer.from(text, "base64url");
  return bytes.toString("base64url") === text ? bytes : null; // reject non-canonical encodings
}

/**
 * Checks an execution token without calling oakallow, following every offline step of
 * docs/API.md ("What a tool server compares"). The token's single use is NOT checked here: the
 * check is complete only once `verifyToken({consume: true})` or `logExecution` accepted it.
 */
export function verifyTokenOffline(token: string, options: OfflineVerifyOptions): OfflineVerification {
  const fail = (reason: OfflineRejection, claims: Claims | null = null): OfflineVerification => ({ valid: false, reason, claims });

  // 1. oak_tok_<payload>.<signature>, base64url without padding, payload the JSON claims, v = 1
  if (typeof token !== "string" || !token.startsWith("oak_tok_")) return fail("malformed");
  const parts = token.slice("oak_tok_".length).split(".");
  if (parts.length !== 2) return fail("malformed");
  const [payload, signaturePart] = parts as [string, string];
  const payloadBytes = decodeB64url(payload);
  const signature = decodeB64url(signaturePart);
  if (!payloadBytes || !signature) return fail("malformed");
  let claims: Claims;
  try {
    claims = JSON.parse(payloadBytes.toString("utf8")) as Claims;
  } catch {
    return fail("malformed");
  }
  if (!isClaims(claims) || claims.v !== 1) return fail("malformed");

  // 2. kid names a trusted key; the algorithm is the key's, never the token's; signature over ASCII <payload>
  const keys = Array.isArray(options.signingKeys) ? options.signingKeys : (options.signingKeys?.keys ?? []);
  const published = keys.find((k) => k.kid === claims.kid);
  const hmac = options.hmacKey && options.hmacKey.kid === claims.kid ? options.hmacKey : undefined;
  if (!published && !hmac) return fail("unknown_key", claims);
  const signed = Buffer.from(payload, "ascii");
  if (published) {
    if (published.alg !== "ed25519" || claims.alg !== "ed25519") return fail("bad_signature", claims);
    let ok = false;
    try {
      const key = createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: published.public_key }, format: "jwk" });
      ok = cryptoVerify(null, signed, key, signature);
    } catch {
      ok = false;
    }
    if (!ok) return fail("bad_signature", claims);
  } else if (hmac) {
    if (claims.alg !== "hmac-sha256") return fail("bad_signature", claims);
    const secret = typeof hmac.secret === "string" ? Buffer.from(hmac.secret, "utf8") : hmac.secret;
    const expected = createHmac("sha256", secret).update(signed).digest();
    if (signature.length !== expected.length || !timingSafeEqual(signature, expected)) return fail("bad_signature", claims);
  }

  // 3. the org it serves
  if (claims.org !== options.org) return fail("wrong_org", claims);
  // 4. the tool about to run
  if (claims.tool !== options.tool) return fail("tool_mismatch", claims);
  // 5. tenant, resource, method: equal, null only when the call has none
  if ((claims.tenant ?? null) !== (options.tenant ?? null)) return fail("tenant_mismatch", claims);
  if ((claims.resource ?? null) !== (options.resource ?? null)) return fail("resource_mismatch", claims);
  if ((claims.method ?? null) !== (options.method ?? null)) return fail("method_mismatch", claims);
  // 6. params hash by canonical JSON
  let hash: string;
  try {
    hash = paramsSha256(options.params);
  } catch {
    return fail("params_mismatch", claims);
  }
  if (claims.params_sha256 !== hash) return fail("params_mismatch", claims);
  // 7. now is before exp
  const now = options.now === undefined ? Date.now() / 1000 : options.now instanceof Date ? options.now.getTime() / 1000 : options.now;
  if (!(now < claims.exp)) return fail("expired", claims);
  // 8. single use: only oakallow knows (consume through verifyToken or logExecution)
  return { valid: true, reason: null, claims };
}

function isClaims(c: unknown): c is Claims {
  if (!c || typeof c !== "object" || Array.isArray(c)) return false;
  const o = c as Record<string, unknown>;
  const str = (k: string) => typeof o[k] === "string";
  const optStr = (k: string) => o[k] === undefined || o[k] === null || typeof o[k] === "string";
  return (
    typeof o.v === "number" &&
    ["alg", "kid", "jti", "org", "tool", "params_sha256", "src"].every(str) &&
    ["tenant", "resource", "method"].every(optStr) &&
    Number.isInteger(o.iat) &&
    Number.isInteger(o.exp)
  );
}
