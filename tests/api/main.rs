//! REST API integration tests: each test runs the real server against its own PostgreSQL database
//! (cloned from a migrated template), so they run in parallel and share no data.

mod helpers;
mod process;

mod auth;
mod authors;
mod books;
mod browser;
mod cache;
mod cancellation;
mod cli;
mod cluster;
mod contract;
mod graphql;
mod hardening;
mod logging;
mod magazines;
mod metrics;
mod ops;
mod protocol;
mod ratelimit;
mod schema_drift;
mod schemathesis;
mod seed;
mod shutdown;
mod subscriptions;
mod tls;
mod users;
