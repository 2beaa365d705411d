//! Magazines.

/// The criteria of a magazine list, as both doors build them.
pub use crate::repo::magazines::MagazineFilter;

use crate::app::{App, Ctx};
use crate::cache::CacheKey;
use crate::db::read;
use crate::domain::{validate, validate::Check};
use crate::error::{AppError, AppResult};
use crate::model::{Magazine, Page};
use crate::repo::{self, magazines::MagazineData};
use crate::service::cached::{decode_json, CachedJson};
use crate::service::freshness::Freshness;
use crate::service::input::{Input, MagazineInput};
use crate::service::{check_version, cursor, require_role, PageArgs, ADMINS, EDITORS};

fn magazine_data(
    c: &mut Check,
    f: &MagazineInput,
    current: Option<&Magazine>,
) -> Option<MagazineData> {
    let required = current.is_none();
    let title = c.text("title", &f.title, required, validate::MAX_TITLE);
    let issn = c.issn("issn", &f.issn, required);
    let publisher = c.text("publisher", &f.publisher, required, validate::MAX_NAME);
    let category = c.category("category", &f.category, required);
    let frequency = c.frequency("frequency", &f.frequency, required);
    let year = c.publication_year("year", &f.year, required);
    let price = c
        .integer(
            "price_cents",
            &f.price_cents,
            required,
            0,
            validate::MAX_PRICE_CENTS,
        )
        .map(|p| p as i32);
    Some(MagazineData {
        title: title.or_else(|| current.map(|m| m.title.clone()))?,
        issn: issn.or_else(|| current.map(|m| crate::domain::Issn::from_db(m.issn.clone())))?,
        publisher: publisher.or_else(|| current.map(|m| m.publisher.clone()))?,
        category: category.or(current.map(|m| m.category))?,
        frequency: frequency.or(current.map(|m| m.frequency))?,
        year: year.or(current.map(|m| m.year))?,
        price_cents: price.or(current.map(|m| m.price_cents))?,
    })
}

impl App {
    /// One magazine as cached JSON (REST serves these bytes as they are).
    pub async fn magazine_json(&self, ctx: &Ctx, id: i64) -> AppResult<CachedJson> {
        self.cached_one(
            CacheKey::Magazine(id),
            |m: &Magazine| m.version,
            || async move {
                let need = self.read_position(ctx, Freshness::Fill).await;
                read!(self.db, &ctx.stats, need, |c| Ok(repo::magazines::by_id(
                    c, id
                )
                .await?))
            },
        )
        .await?
        .ok_or(AppError::not_found("magazine"))
    }

    pub async fn magazine(&self, ctx: &Ctx, id: i64) -> AppResult<Magazine> {
        decode_json(&self.magazine_json(ctx, id).await?.json)
    }

    pub async fn magazines_by_ids(&self, ctx: &Ctx, ids: &[i64]) -> AppResult<Vec<Magazine>> {
        self.cached_many(
            ids,
            |id| CacheKey::Magazine(*id),
            |m: &Magazine| m.version,
            |m| m.id,
            |missing| async move {
                let need = self.read_position(ctx, Freshness::Fill).await;
                read!(self.db, &ctx.stats, need, |c| Ok(repo::magazines::by_ids(
                    c, &missing
                )
                .await?))
            },
        )
        .await
    }

    pub async fn list_magazines(
        &self,
        ctx: &Ctx,
        filter: &MagazineFilter,
        page: &PageArgs,
    ) -> AppResult<Page<Magazine>> {
        let limit = page.limit()?;
        let scope = "magazines:id:asc";
        let after = cursor::id_after(page, scope)?;
        // Magazine pages are not cached: only the caller's own writes matter.
        let need = self.read_position(ctx, Freshness::Caller).await;
        let items = read!(self.db, &ctx.stats, need, |c| Ok(repo::magazines::list(
            c,
            filter,
            after,
            limit + 1
        )
        .await?))?;
        Ok(cursor::page_of(items, limit, |x| {
            cursor::id_cursor(scope, x.id)
        }))
    }

    pub async fn create_magazine(
        &self,
        ctx: &Ctx,
        input: impl Input<MagazineInput>,
    ) -> AppResult<Magazine> {
        require_role(ctx, EDITORS)?;
        let received = input.read()?;
        let mut c = Check::new(&received.unknown);
        let data = magazine_data(&mut c, &received.input, None);
        c.finish()?;
        let data = data.ok_or_else(|| {
            AppError::internal(anyhow::anyhow!("validated magazine fields missing"))
        })?;
        self.write(ctx, move |c| {
            Box::pin(async move { Ok(repo::magazines::insert(c, &data).await?) })
        })
        .await
    }

    /// `PUT` (every field, `partial == false`) or GraphQL's partial `updateMagazine`. `id` as
    /// the client wrote it (parsed after the role check).
    pub async fn update_magazine(
        &self,
        ctx: &Ctx,
        id: &str,
        input: impl Input<MagazineInput>,
        expected_version: Option<i32>,
        partial: bool,
    ) -> AppResult<Magazine> {
        require_role(ctx, EDITORS)?;
        let id = super::id_param(id, "id")?;
        let received = input.read()?;
        if !partial {
            let mut c = Check::new(&received.unknown);
            magazine_data(&mut c, &received.input, None);
            c.finish()?;
        }
        self.write_invalidating(ctx, move |c| {
            Box::pin(async move {
                let version = repo::magazines::lock_version(c, id)
                    .await?
                    .ok_or(AppError::not_found("magazine"))?;
                let current = if partial {
                    repo::magazines::by_id(c, id).await?
                } else {
                    None
                };
                let mut chk = Check::new(&received.unknown);
                let data = magazine_data(&mut chk, &received.input, current.as_ref());
                chk.finish()?;
                let data = data.ok_or_else(|| {
                    AppError::internal(anyhow::anyhow!("validated magazine fields missing"))
                })?;
                check_version(expected_version, version)?;
                Ok((
                    repo::magazines::update(c, id, &data).await?,
                    vec![CacheKey::Magazine(id)],
                ))
            })
        })
        .await
    }

    /// `id` as the client wrote it (parsed after the role check).
    pub async fn delete_magazine(
        &self,
        ctx: &Ctx,
        id: &str,
        expected_version: Option<i32>,
    ) -> AppResult<()> {
        require_role(ctx, ADMINS)?;
        let id = super::id_param(id, "id")?;
        self.write_invalidating(ctx, move |c| {
            Box::pin(async move {
                let version = repo::magazines::lock_version(c, id)
                    .await?
                    .ok_or(AppError::not_found("magazine"))?;
                check_version(expected_version, version)?;
                repo::magazines::delete(c, id).await?;
                Ok(((), vec![CacheKey::Magazine(id)]))
            })
        })
        .await
    }
}

/// The cursor of `magazine` in the magazine list (for GraphQL edges).
pub fn cursor_of(magazine: &Magazine) -> String {
    cursor::id_cursor("magazines:id:asc", magazine.id)
}
