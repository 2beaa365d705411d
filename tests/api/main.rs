//! Integration tests of both doors (REST and GraphQL, WebSockets, the CLI, processes and clusters):
//! each test runs the real server against its own PostgreSQL database (cloned from a migrated
//! template), so they run in parallel and share no data.

mod helpers;
#[path = "../support/private_services.rs"]
mod private_services;
mod process;
/// Test harnesses that are not tests: the WebDriver driver of the browser tests.
mod support {
    pub mod webdriver;
}

mod auth;
mod authors;
mod books;
mod browser;
mod cache;
mod cancellation;
mod cli;
mod cluster;
mod contract;
mod faults;
mod graphql;
mod graphql_protocol;
mod hardening;
mod k8s;
mod logging;
mod magazines;
mod metrics;
mod ops;
mod protocol;
mod ratelimit;
mod replicas;
mod schema_drift;
mod schemathesis;
mod seed;
mod shutdown;
mod subscriptions;
mod tls;
mod users;
