//! SQL for refresh-token families.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::db::schema::refresh_tokens;

pub async fn insert(
    conn: &mut AsyncPgConnection,
    user_id: i64,
    family_id: Uuid,
    token_hash: &[u8],
    expires_at: DateTime<Utc>,
) -> QueryResult<()> {
    diesel::insert_into(refresh_tokens::table)
        .values((
            refresh_tokens::user_id.eq(user_id),
            refresh_tokens::family_id.eq(family_id),
            refresh_tokens::token_hash.eq(token_hash),
            refresh_tokens::expires_at.eq(expires_at),
        ))
        .execute(conn)
        .await
        .map(|_| ())
}

/// What presenting a refresh token found.
pub enum Redeemed {
    /// The token was live and is now used: issue a new pair in the same family.
    Fresh { user_id: i64, family_id: Uuid },
    /// The token was already used or its family revoked: a replay. The family is now revoked.
    Replayed,
    /// Unknown or expired.
    Invalid,
}

/// Marks a live token used, atomically (one UPDATE, so two concurrent uses cannot both win).
pub async fn redeem(conn: &mut AsyncPgConnection, token_hash: &[u8]) -> QueryResult<Redeemed> {
    let fresh: Option<(i64, Uuid)> = diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::token_hash.eq(token_hash))
            .filter(refresh_tokens::used_at.is_null())
            .filter(refresh_tokens::revoked_at.is_null())
            .filter(refresh_tokens::expires_at.gt(diesel::dsl::now)),
    )
    .set((
        refresh_tokens::used_at.eq(diesel::dsl::now),
        refresh_tokens::version.eq(refresh_tokens::version + 1),
        refresh_tokens::updated_at.eq(diesel::dsl::now),
    ))
    .returning((refresh_tokens::user_id, refresh_tokens::family_id))
    .get_result(conn)
    .await
    .optional()?;
    if let Some((user_id, family_id)) = fresh {
        return Ok(Redeemed::Fresh { user_id, family_id });
    }
    let known: Option<(Uuid, Option<DateTime<Utc>>)> = refresh_tokens::table
        .filter(refresh_tokens::token_hash.eq(token_hash))
        .select((refresh_tokens::family_id, refresh_tokens::used_at))
        .first(conn)
        .await
        .optional()?;
    match known {
        Some((family_id, Some(_))) => {
            revoke_family(conn, family_id).await?;
            Ok(Redeemed::Replayed)
        }
        _ => Ok(Redeemed::Invalid),
    }
}

pub async fn revoke_family(conn: &mut AsyncPgConnection, family_id: Uuid) -> QueryResult<usize> {
    diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::family_id.eq(family_id))
            .filter(refresh_tokens::revoked_at.is_null()),
    )
    .set((
        refresh_tokens::revoked_at.eq(diesel::dsl::now),
        refresh_tokens::updated_at.eq(diesel::dsl::now),
    ))
    .execute(conn)
    .await
}

/// Revokes every refresh token of a user (password change).
pub async fn revoke_user(conn: &mut AsyncPgConnection, user_id: i64) -> QueryResult<usize> {
    diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::user_id.eq(user_id))
            .filter(refresh_tokens::revoked_at.is_null()),
    )
    .set((
        refresh_tokens::revoked_at.eq(diesel::dsl::now),
        refresh_tokens::updated_at.eq(diesel::dsl::now),
    ))
    .execute(conn)
    .await
}
