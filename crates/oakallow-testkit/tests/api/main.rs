//! HTTP integration tests: a real server on port 0 over a real database, driven over HTTP.

#![expect(clippy::unwrap_used, reason = "tests: a failed step is a failed test")]

mod approvals;
mod audit;
mod contract;
mod credits;
mod invalid_input;
mod management;
mod resolution;
mod system;
mod tiers;
mod tokens;
mod webhooks;
mod workflow;
