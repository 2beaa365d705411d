//! Authors: reads, lists, their books, and writes.

use crate::app::{App, Ctx};
use crate::cache::{CacheKey, CachedPage, PageKey};
use crate::db::read;
use crate::domain::{validate, validate::Check, Category, SortOrder};
use crate::error::{AppError, AppResult};
use crate::model::{Author, Book, Page};
use crate::repo::{self, authors::AuthorData, books::BookFilter};
use crate::service::cached::{decode_json, CachedJson};
use crate::service::freshness::Freshness;
use crate::service::input::{AuthorInput, AuthorPatch, AuthorRename, Input, Received};
use crate::service::{
    books::BookListArgs, check_version, cursor, require_role, PageArgs, ADMINS, EDITORS,
};

/// Reads author fields; with `current`, absent fields keep their value and a present `null`
/// clears an optional one.
fn author_data(
    c: &mut Check,
    f: &AuthorPatch,
    current: Option<&Author>,
    name_required: bool,
) -> Option<AuthorData> {
    let name = c.text("name", &f.name, name_required, validate::MAX_NAME);
    let bio = c.text("bio", &f.bio, false, validate::MAX_BIO);
    let born = c
        .integer(
            "born_year",
            &f.born_year,
            false,
            validate::MIN_BORN_YEAR,
            i64::from(validate::current_year()),
        )
        .map(|y| y as i32);
    let bio = if f.bio.is_sent() {
        bio
    } else {
        current.and_then(|a| a.bio.clone())
    };
    let born_year = if f.born_year.is_sent() {
        born
    } else {
        current.and_then(|a| a.born_year)
    };
    Some(AuthorData {
        name: name.or_else(|| current.map(|a| a.name.clone()))?,
        bio,
        born_year,
    })
}

/// A partial update of an author: `PATCH /v1/author/{id}` (any field) or a rename (`PATCH
/// .../name`, GraphQL `renameAuthor`: the name only, and required).
pub enum AuthorChange {
    Patch(AuthorPatch),
    Rename(AuthorRename),
}

impl From<AuthorPatch> for AuthorChange {
    fn from(p: AuthorPatch) -> Self {
        AuthorChange::Patch(p)
    }
}

impl From<AuthorRename> for AuthorChange {
    fn from(r: AuthorRename) -> Self {
        AuthorChange::Rename(r)
    }
}

impl App {
    /// One author as cached JSON (REST serves these bytes as they are).
    pub async fn author_json(&self, ctx: &Ctx, id: i64) -> AppResult<CachedJson> {
        self.cached_one(
            CacheKey::Author(id),
            |a: &Author| a.version,
            || async move {
                let need = self.read_position(ctx, Freshness::Fill).await;
                read!(self.db, &ctx.stats, need, |c| Ok(repo::authors::by_id(
                    c, id
                )
                .await?))
            },
        )
        .await?
        .ok_or(AppError::not_found("author"))
    }

    pub async fn author(&self, ctx: &Ctx, id: i64) -> AppResult<Author> {
        decode_json(&self.author_json(ctx, id).await?.json)
    }

    /// Many authors: one cache round trip, one statement for the misses; for loaders.
    pub async fn authors_by_ids(&self, ctx: &Ctx, ids: &[i64]) -> AppResult<Vec<Author>> {
        self.cached_many(
            ids,
            |id| CacheKey::Author(*id),
            |a: &Author| a.version,
            |a| a.id,
            |missing| async move {
                let need = self.read_position(ctx, Freshness::Fill).await;
                read!(self.db, &ctx.stats, need, |c| Ok(repo::authors::by_ids(
                    c, &missing
                )
                .await?))
            },
        )
        .await
    }

    pub async fn list_authors(
        &self,
        ctx: &Ctx,
        name_contains: Option<&str>,
        page: &PageArgs,
    ) -> AppResult<Page<Author>> {
        let limit = page.limit()?;
        // Names are stored trimmed: a name search is trimmed too, and a blank one is no search.
        let name_contains = name_contains.map(str::trim).filter(|s| !s.is_empty());
        if let Some(n) = name_contains {
            super::check_search(page.param_name("name", "nameContains"), n, "name")?;
        }
        let scope = "authors:id:asc";
        let after = cursor::id_after(page, scope)?;
        // Cached like book pages (generation-checked: every author or book write moves it on).
        let page_key = PageKey::Authors {
            limit,
            cursor: page.cursor.clone(),
            name_contains: name_contains.map(str::to_owned),
        };
        let generation = self.cache.page_generation();
        if let Some(CachedPage::Authors(hit)) =
            generation.and_then(|g| self.cache.get_page(&page_key, g))
        {
            return Ok(Page::clone(&hit));
        }
        let need = self.read_position(ctx, Freshness::Fill).await;
        let items = read!(self.db, &ctx.stats, need, |c| Ok(repo::authors::list(
            c,
            name_contains,
            after,
            limit + 1
        )
        .await?))?;
        let result = cursor::page_of(items, limit, |x| cursor::id_cursor(scope, x.id));
        if let Some(g) = generation {
            self.cache.put_page(
                page_key,
                g,
                CachedPage::Authors(std::sync::Arc::new(result.clone())),
            );
        }
        Ok(result)
    }

    /// An author's books by (year, isbn); 404 for an unknown author.
    pub async fn author_books(
        &self,
        ctx: &Ctx,
        author_id: i64,
        category: Option<Category>,
        order: Option<SortOrder>,
        page: &PageArgs,
    ) -> AppResult<Page<Book>> {
        {
            let need = self.read_position(ctx, Freshness::Caller).await;
            if read!(self.db, &ctx.stats, need, |c| Ok(
                repo::authors::existing_ids(c, &[author_id]).await?
            ))?
            .is_empty()
            {
                return Err(AppError::not_found("author"));
            }
        }
        let args = BookListArgs {
            filter: BookFilter {
                category,
                author_id: Some(author_id),
                ..BookFilter::default()
            },
            sort: Some(crate::domain::BookSort::Year),
            order,
        };
        self.list_books(ctx, &args, page).await
    }

    pub async fn create_author(
        &self,
        ctx: &Ctx,
        input: impl Input<AuthorInput>,
    ) -> AppResult<Author> {
        require_role(ctx, EDITORS)?;
        let received = input.read()?;
        let mut c = Check::new(&received.unknown);
        let f = received.input;
        let fields = AuthorPatch {
            name: f.name,
            bio: f.bio,
            born_year: f.born_year,
        };
        let data = author_data(&mut c, &fields, None, true);
        c.finish()?;
        let data = data.ok_or_else(|| {
            AppError::internal(anyhow::anyhow!("validated author fields missing"))
        })?;
        self.write_invalidating(ctx, move |c| {
            Box::pin(async move {
                let id = repo::authors::insert(c, &data).await?;
                let author = repo::authors::by_id(c, id)
                    .await?
                    .ok_or(AppError::not_found("author"))?;
                // Nothing cached names the new author, but its invalidation moves the list
                // pages' generation on, so cached author lists include it.
                Ok((author, vec![CacheKey::Author(id)]))
            })
        })
        .await
    }

    /// Partial update of name, bio, born_year (`PATCH /v1/author/{id}`), or a rename (`PATCH
    /// .../name` and `renameAuthor` accept only `name`, and require it). `id` as the client
    /// wrote it (parsed after the role check).
    pub async fn update_author<T: Into<AuthorChange> + Send>(
        &self,
        ctx: &Ctx,
        id: &str,
        input: impl Input<T>,
        expected_version: Option<i32>,
    ) -> AppResult<Author> {
        require_role(ctx, EDITORS)?;
        let id = super::id_param(id, "id")?;
        let Received { input, unknown } = input.read()?;
        let (fields, name_only) = match input.into() {
            AuthorChange::Patch(p) => (p, false),
            AuthorChange::Rename(r) => (
                AuthorPatch {
                    name: r.name,
                    ..AuthorPatch::default()
                },
                true,
            ),
        };
        {
            // Validate the shape before touching the database; name is optional in a PATCH but
            // may never be cleared.
            let mut c = Check::new(&unknown);
            author_data(&mut c, &fields, None, name_only);
            if fields.name.is_null() {
                c.push("name", "must not be null");
            }
            c.finish()?;
        }
        self.write_invalidating(ctx, move |c| {
            Box::pin(async move {
                let version = repo::authors::lock_version(c, id)
                    .await?
                    .ok_or(AppError::not_found("author"))?;
                check_version(expected_version, version)?;
                let current = repo::authors::by_id(c, id)
                    .await?
                    .ok_or(AppError::not_found("author"))?;
                let mut chk = Check::default();
                let data = author_data(&mut chk, &fields, Some(&current), false);
                chk.finish()?;
                let data = data.ok_or_else(|| {
                    AppError::internal(anyhow::anyhow!("validated author fields missing"))
                })?;
                repo::authors::update(c, id, &data).await?;
                let author = repo::authors::by_id(c, id)
                    .await?
                    .ok_or(AppError::not_found("author"))?;
                // Cached books show their authors' names.
                let mut stale = vec![CacheKey::Author(id)];
                if author.name != current.name {
                    stale.extend(
                        repo::authors::book_isbns(c, id)
                            .await?
                            .into_iter()
                            .map(CacheKey::Book),
                    );
                }
                Ok((author, stale))
            })
        })
        .await
    }

    /// Admin only; 409 while the author still has books.
    /// `id` as the client wrote it (parsed after the role check).
    pub async fn delete_author(
        &self,
        ctx: &Ctx,
        id: &str,
        expected_version: Option<i32>,
    ) -> AppResult<()> {
        require_role(ctx, ADMINS)?;
        let id = super::id_param(id, "id")?;
        self.write_invalidating(ctx, move |c| {
            Box::pin(async move {
                let version = repo::authors::lock_version(c, id)
                    .await?
                    .ok_or(AppError::not_found("author"))?;
                check_version(expected_version, version)?;
                if repo::authors::has_books(c, id).await? {
                    return Err(AppError::Conflict(
                        "the author still has books; delete or reassign them first".into(),
                    ));
                }
                repo::authors::delete(c, id).await?;
                Ok(((), vec![CacheKey::Author(id)]))
            })
        })
        .await
    }
}

/// The cursor of `author` in the author list (for GraphQL edges).
pub fn cursor_of(author: &Author) -> String {
    cursor::id_cursor("authors:id:asc", author.id)
}
