//! Authors: reads, lists, their books, and writes.

use serde_json::Value;

use crate::app::{App, Ctx};
use crate::cache::{CacheKey, CachedPage, PageKey};
use crate::db::read;
use crate::domain::{validate, validate::Fields, Category, SortOrder};
use crate::error::{AppError, AppResult};
use crate::model::{Author, Book, Page};
use crate::repo::{self, authors::AuthorData, books::BookFilter};
use crate::service::cached::{decode_json, CachedJson};
use crate::service::freshness::Freshness;
use crate::service::{
    books::BookListArgs, check_version, cursor, require_role, PageArgs, ADMINS, EDITORS,
};

const AUTHOR_FIELDS: &[&str] = &["name", "bio", "born_year"];

/// Reads author fields; with `current`, absent fields keep their value and a present `null`
/// clears an optional one.
fn author_data(
    f: &mut Fields<'_>,
    current: Option<&Author>,
    name_required: bool,
) -> Option<AuthorData> {
    let name = f.text("name", name_required, validate::MAX_NAME);
    let bio = f.text("bio", false, validate::MAX_BIO);
    let born = f
        .integer(
            "born_year",
            false,
            -3000,
            i64::from(validate::current_year()),
        )
        .map(|y| y as i32);
    let bio = if f.has("bio") {
        bio
    } else {
        current.and_then(|a| a.bio.clone())
    };
    let born_year = if f.has("born_year") {
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

/// Parses an author id from a path or argument.
pub fn author_id_param(raw: &str, param: &str) -> AppResult<i64> {
    raw.trim()
        .parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| AppError::bad_param(param, format!("{param} must be a positive integer id")))
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
        if let Some(name) = name_contains {
            crate::domain::validate::search_text(
                page.param_name("name", "nameContains"),
                name,
                200,
            )?;
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

    pub async fn create_author(&self, ctx: &Ctx, input: &Value) -> AppResult<Author> {
        require_role(ctx, EDITORS)?;
        let mut f = Fields::new(input, AUTHOR_FIELDS)?;
        let data = author_data(&mut f, None, true);
        f.finish()?;
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

    /// Partial update of name, bio, born_year (`PATCH /v1/author/{id}`); `fields` limits which
    /// keys are accepted (`PATCH .../name` and `renameAuthor` accept only `name`, and require it).
    pub async fn update_author(
        &self,
        ctx: &Ctx,
        id: i64,
        input: &Value,
        expected_version: Option<i32>,
        name_only: bool,
    ) -> AppResult<Author> {
        require_role(ctx, EDITORS)?;
        let allowed: &'static [&'static str] = if name_only {
            &AUTHOR_FIELDS[..1]
        } else {
            AUTHOR_FIELDS
        };
        {
            // Validate the shape before touching the database; name is optional in a PATCH but
            // may never be cleared.
            let mut f = Fields::new(input, allowed)?;
            author_data(&mut f, None, name_only);
            if input.get("name").is_some_and(Value::is_null) {
                f.push("name", "must not be null");
            }
            f.finish()?;
        }
        let input = input.clone();
        self.write_invalidating(ctx, move |c| {
            Box::pin(async move {
                let version = repo::authors::lock_version(c, id)
                    .await?
                    .ok_or(AppError::not_found("author"))?;
                check_version(expected_version, version)?;
                let current = repo::authors::by_id(c, id)
                    .await?
                    .ok_or(AppError::not_found("author"))?;
                let mut f = Fields::new(&input, allowed)?;
                let data = author_data(&mut f, Some(&current), false);
                f.finish()?;
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
    pub async fn delete_author(
        &self,
        ctx: &Ctx,
        id: i64,
        expected_version: Option<i32>,
    ) -> AppResult<()> {
        require_role(ctx, ADMINS)?;
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
