//! HTTP integration tests: a real server on port 0 over a real database, driven over HTTP.

#![expect(clippy::unwrap_used, reason = "tests: a failed step is a failed test")]

mod approvals;
mod audit;
mod batches;
mod browser;
mod client;
mod connections;
mod contract;
mod credits;
mod dashboard;
mod deciders;
mod discover;
mod export;
mod integrity;
mod invalid_input;
mod management;
mod metrics;
mod notifications;
mod pii;
mod purchases;
mod races;
mod rate_limits;
mod resolution;
mod simulate;
mod slack;
mod system;
mod tiers;
mod token_scope;
mod tokens;
mod webhooks;
mod workflow;
