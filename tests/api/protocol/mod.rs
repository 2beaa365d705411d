//! Cross-cutting HTTP behaviour of the REST door, by theme.

mod bodies;
mod conditional;
mod headers;
mod pagination;
mod routing;
