export { Oakallow } from "./client.js";
export type { OakallowOptions, Collections, Collection, GuardSpec, Page, ListQuery, ActivityQuery, ApprovalQuery, Schemas } from "./client.js";
export * from "./errors.js";
export { verifyTokenOffline, canonicalJson, paramsSha256 } from "./verify.js";
export type { OfflineVerifyOptions, OfflineVerification, OfflineRejection } from "./verify.js";
export type { components, paths } from "./schema.js";
