//! SQL for magazines.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::db::schema::magazines;
use crate::domain::{Category, Frequency, Issn};
use crate::model::Magazine;

#[derive(Queryable, Selectable, Debug)]
#[diesel(table_name = magazines, check_for_backend(diesel::pg::Pg))]
struct MagazineRow {
    id: i64,
    title: String,
    issn: String,
    publisher: String,
    category: String,
    frequency: String,
    year: i32,
    price_cents: i32,
    version: i32,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<MagazineRow> for Magazine {
    fn from(r: MagazineRow) -> Self {
        Magazine {
            id: r.id,
            title: r.title,
            issn: r.issn,
            publisher: r.publisher,
            // CHECK constraints admit only the contract's values.
            category: Category::parse(&r.category).unwrap_or(Category::Science),
            frequency: Frequency::parse(&r.frequency).unwrap_or(Frequency::Monthly),
            year: r.year,
            price_cents: r.price_cents,
            created_at: r.created_at,
            updated_at: r.updated_at,
            version: r.version,
        }
    }
}

/// Every field of a magazine, validated.
#[derive(Debug, Clone)]
pub struct MagazineData {
    pub title: String,
    pub issn: Issn,
    pub publisher: String,
    pub category: Category,
    pub frequency: Frequency,
    pub year: i32,
    pub price_cents: i32,
}

#[derive(Debug, Clone, Default)]
pub struct MagazineFilter {
    pub category: Option<Category>,
    pub frequency: Option<Frequency>,
    pub year: Option<i32>,
}

pub async fn by_id(conn: &mut AsyncPgConnection, id: i64) -> QueryResult<Option<Magazine>> {
    magazines::table
        .filter(magazines::id.eq(id))
        .select(MagazineRow::as_select())
        .first(conn)
        .await
        .optional()
        .map(|r| r.map(Magazine::from))
}

pub async fn by_ids(conn: &mut AsyncPgConnection, ids: &[i64]) -> QueryResult<Vec<Magazine>> {
    magazines::table
        .filter(magazines::id.eq_any(ids))
        .select(MagazineRow::as_select())
        .load(conn)
        .await
        .map(|rows| rows.into_iter().map(Magazine::from).collect())
}

pub async fn list(
    conn: &mut AsyncPgConnection,
    filter: &MagazineFilter,
    after_id: Option<i64>,
    limit: i64,
) -> QueryResult<Vec<Magazine>> {
    let mut q = magazines::table
        .select(MagazineRow::as_select())
        .into_boxed();
    if let Some(c) = filter.category {
        q = q.filter(magazines::category.eq(c.as_str()));
    }
    if let Some(f) = filter.frequency {
        q = q.filter(magazines::frequency.eq(f.as_str()));
    }
    if let Some(y) = filter.year {
        q = q.filter(magazines::year.eq(y));
    }
    if let Some(id) = after_id {
        q = q.filter(magazines::id.gt(id));
    }
    q.order(magazines::id.asc())
        .limit(limit)
        .load(conn)
        .await
        .map(|rows| rows.into_iter().map(Magazine::from).collect())
}

pub async fn insert(conn: &mut AsyncPgConnection, d: &MagazineData) -> QueryResult<Magazine> {
    diesel::insert_into(magazines::table)
        .values((
            magazines::title.eq(&d.title),
            magazines::issn.eq(d.issn.as_str()),
            magazines::publisher.eq(&d.publisher),
            magazines::category.eq(d.category.as_str()),
            magazines::frequency.eq(d.frequency.as_str()),
            magazines::year.eq(d.year),
            magazines::price_cents.eq(d.price_cents),
        ))
        .returning(MagazineRow::as_returning())
        .get_result(conn)
        .await
        .map(Magazine::from)
}

pub async fn lock_version(conn: &mut AsyncPgConnection, id: i64) -> QueryResult<Option<i32>> {
    magazines::table
        .filter(magazines::id.eq(id))
        .select(magazines::version)
        .for_update()
        .first(conn)
        .await
        .optional()
}

pub async fn update(
    conn: &mut AsyncPgConnection,
    id: i64,
    d: &MagazineData,
) -> QueryResult<Magazine> {
    diesel::update(magazines::table.filter(magazines::id.eq(id)))
        .set((
            magazines::title.eq(&d.title),
            magazines::issn.eq(d.issn.as_str()),
            magazines::publisher.eq(&d.publisher),
            magazines::category.eq(d.category.as_str()),
            magazines::frequency.eq(d.frequency.as_str()),
            magazines::year.eq(d.year),
            magazines::price_cents.eq(d.price_cents),
            magazines::version.eq(magazines::version + 1),
            magazines::updated_at.eq(diesel::dsl::now),
        ))
        .returning(MagazineRow::as_returning())
        .get_result(conn)
        .await
        .map(Magazine::from)
}

pub async fn delete(conn: &mut AsyncPgConnection, id: i64) -> QueryResult<usize> {
    diesel::delete(magazines::table.filter(magazines::id.eq(id)))
        .execute(conn)
        .await
}
