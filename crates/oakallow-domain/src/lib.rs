//! oakallow's domain: everything that decides, with no I/O. Ids, time, permissions, the policy
//! and its resolver, canonical JSON, keys and secrets, orgs, and the audit chain.
//! This crate must never depend on tokio, sqlx or axum.

pub mod account;
pub mod approval;
pub mod audit;
pub mod billing;
pub mod canonical;
pub mod clock;
pub mod execution;
pub mod id;
pub mod json;
pub mod keys;
pub mod org;
pub mod permission;
pub mod pii;
pub mod policy;
pub mod secret;
pub mod slack;
pub mod stripe;
pub mod token;
pub mod token_scope;
pub mod totp;
pub mod webhook;

pub use clock::{Clock, ManualClock, SystemClock, Timestamp};
pub use permission::{Permission, ResolvedFrom, RiskLevel};
