//! Benchmark tools for the HTTP rows of QUALITY.md: `loadgen`, an HTTP/1.1 keep-alive load
//! generator (one request in flight per connection, like `wrk`), and `axum-constant`, the bare
//! axum baseline that answers every POST with a constant JSON body. `benches/perf.py` runs both.
//!
//! Both only ever talk to loopback addresses: they are for measuring a server on this machine.

pub mod constant;
pub mod histogram;
pub mod http;
pub mod run;
pub mod target;
