//! Pages of lists, cached in process under a generation (see `Cache::page_generation`): typed
//! keys (what was asked) and typed values (what was answered), so no page is ever read back as
//! another type and no key is built by formatting.

use std::sync::Arc;

use crate::domain::{BookSort, Category, SortOrder};
use crate::model::{Author, Book, Page, SharedPage};
use crate::repo::books::BookFilter;

/// What a cached page answers: the list, its filters, its page size and where it starts.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PageKey {
    Books {
        sort: BookSort,
        order: SortOrder,
        limit: i64,
        cursor: Option<String>,
        filter: BookFilter,
    },
    Authors {
        limit: i64,
        cursor: Option<String>,
        name_contains: Option<String>,
    },
    /// One author's books (`Author.books`, `GET /v1/author/{id}/book`).
    AuthorBooks {
        author: i64,
        limit: i64,
        cursor: Option<String>,
        category: Option<Category>,
        order: SortOrder,
        with_authors: bool,
    },
}

/// A cached page; its variant matches its key's.
#[derive(Debug, Clone)]
pub enum CachedPage {
    Books(Arc<SharedPage<Book>>),
    Authors(Arc<Page<Author>>),
    AuthorBooks(Arc<Page<Book>>),
}
