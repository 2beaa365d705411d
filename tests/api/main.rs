//! REST API integration tests: each test runs the real server against its own PostgreSQL database
//! (cloned from a migrated template), so they run in parallel and share no data.

mod helpers;

mod auth;
mod authors;
mod books;
mod magazines;
mod ops;
mod users;
