//! The fault suite (`make faults`, scripts/faults.sh): each scenario runs the real `bookstore`
//! binary (the release build when run through the script) against PRIVATE PostgreSQL clusters and
//! Redis servers (tests/support/private_services.rs), injects one fault under bounded loopback
//! load, asserts what clients may rely on, and prints one `FAULT <name>: key=value ...` line.
//!
//! The shared PostgreSQL (5432) and Redis (6379) are never stopped, killed nor paused here.
//! Scenarios are meant to run one at a time (`--test-threads=1`): their latency figures assume
//! the machine is not also busy with another scenario.

#[path = "../support/private_services.rs"]
mod private_services;
mod support;

mod dropped_connections;
mod fanout;
mod hostile_input;
mod lost_update;
mod pool_exhaustion;
mod postgres_stop;
mod redis_outage;
mod replica_kill;
mod stampede;
