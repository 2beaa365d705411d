//! Relay cursor connections over the service's pages: `edges { cursor node }`, `pageInfo`, and
//! `nodes`; a cursor is computed only when a client asks for it.

use async_graphql::{ComplexObject, SimpleObject};

use super::objects::*;
use crate::model;
use crate::service::{authors, magazines};

#[derive(SimpleObject)]
pub struct PageInfo {
    pub has_next_page: bool,
    pub has_previous_page: bool,
    pub start_cursor: Option<String>,
    pub end_cursor: Option<String>,
}

/// The cursor of an edge's node, computed only when a client asks for it.
type CursorFn<M> = std::sync::Arc<dyn Fn(&M) -> String + Send + Sync>;

macro_rules! connection {
    ($conn:ident, $edge:ident, $node:ident, $model:ty) => {
        #[derive(SimpleObject)]
        #[graphql(complex)]
        pub struct $edge {
            pub node: $node,
            #[graphql(skip)]
            cursor_of: CursorFn<$model>,
        }

        #[ComplexObject]
        impl $edge {
            async fn cursor(&self) -> String {
                (self.cursor_of)(&self.node.0)
            }
        }

        #[derive(SimpleObject)]
        #[graphql(complex)]
        pub struct $conn {
            pub edges: Vec<$edge>,
            #[graphql(skip)]
            has_next_page: bool,
            #[graphql(skip)]
            cursor_of: CursorFn<$model>,
        }

        #[ComplexObject]
        impl $conn {
            // Cursors computed only when asked for (a nested list may hold hundreds of
            // connections).
            async fn page_info(&self) -> PageInfo {
                PageInfo {
                    has_next_page: self.has_next_page,
                    has_previous_page: false,
                    start_cursor: self.edges.first().map(|e| (self.cursor_of)(&e.node.0)),
                    end_cursor: self.edges.last().map(|e| (self.cursor_of)(&e.node.0)),
                }
            }

            /// The nodes of `edges`, without cursors.
            async fn nodes(&self) -> Vec<&$node> {
                self.edges.iter().map(|e| &e.node).collect()
            }
        }

        impl $conn {
            pub fn new(
                page: model::Page<$model>,
                cursor: impl Fn(&$model) -> String + Send + Sync + 'static,
            ) -> $conn {
                let cursor: CursorFn<$model> = std::sync::Arc::new(cursor);
                let has_next_page = page.next_cursor.is_some();
                let edges = page
                    .items
                    .into_iter()
                    .map(|m| $edge {
                        node: $node::from(m),
                        cursor_of: cursor.clone(),
                    })
                    .collect();
                $conn {
                    edges,
                    has_next_page,
                    cursor_of: cursor,
                }
            }
        }
    };
}

impl BookConnection {
    /// Gives every book of the connection the same preloaded author records.
    pub fn with_authors(mut self, map: Option<AuthorMap>) -> BookConnection {
        if map.is_some() {
            for e in &mut self.edges {
                e.node.1 = map.clone();
            }
        }
        self
    }
}

connection!(BookConnection, BookEdge, Book, model::Book);
connection!(AuthorConnection, AuthorEdge, Author, model::Author);
connection!(MagazineConnection, MagazineEdge, Magazine, model::Magazine);

pub fn author_connection(page: model::Page<model::Author>) -> AuthorConnection {
    AuthorConnection::new(page, authors::cursor_of)
}

pub fn magazine_connection(page: model::Page<model::Magazine>) -> MagazineConnection {
    MagazineConnection::new(page, magazines::cursor_of)
}
