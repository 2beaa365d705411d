//! GraphQL output and input types. Outputs wrap the service's models; inputs convert (`From`)
//! into the service's input types (`crate::service::input`), the same types the REST door
//! reads, so both doors share every validation rule.
//!
//! - `objects`: the output objects (`Book`, `Author`, `Magazine`, `User`, payloads, change events)
//!   and the look-ahead helpers that decide what to preload;
//! - `connections`: Relay connections (edges, `pageInfo`, `nodes`) over the service's pages;
//! - `inputs`: the input objects and their conversion into the service's inputs.

mod connections;
mod inputs;
mod objects;

pub use connections::*;
pub use inputs::*;
pub use objects::*;
