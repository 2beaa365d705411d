//! SQL for users.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::lower;
use crate::db::schema::users;
use crate::domain::Role;
use crate::model::User;

#[derive(Queryable, Selectable, Debug, Clone)]
#[diesel(table_name = users, check_for_backend(diesel::pg::Pg))]
pub struct UserRow {
    pub id: i64,
    pub username: String,
    pub email: String,
    pub password_hash: String,
    pub role: String,
    pub session_epoch: i32,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl UserRow {
    pub fn role(&self) -> Role {
        // The CHECK constraint admits only admin and editor; anything else gets the least power.
        Role::parse(&self.role).unwrap_or(Role::Editor)
    }

    pub fn to_user(&self) -> User {
        User {
            id: self.id,
            username: self.username.clone(),
            email: self.email.clone(),
            role: self.role(),
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

pub struct NewUser<'a> {
    pub username: &'a str,
    pub email: &'a str,
    pub password_hash: &'a str,
    pub role: Role,
}

pub async fn by_id(conn: &mut AsyncPgConnection, id: i64) -> QueryResult<Option<UserRow>> {
    users::table
        .filter(users::id.eq(id))
        .select(UserRow::as_select())
        .first(conn)
        .await
        .optional()
}

pub async fn by_username(
    conn: &mut AsyncPgConnection,
    username: &str,
) -> QueryResult<Option<UserRow>> {
    users::table
        .filter(users::username.eq(username))
        .select(UserRow::as_select())
        .first(conn)
        .await
        .optional()
}

pub async fn email_taken(
    conn: &mut AsyncPgConnection,
    email: &str,
    except_id: Option<i64>,
) -> QueryResult<bool> {
    let mut q = users::table
        .filter(lower(users::email).eq(email.to_lowercase()))
        .into_boxed();
    if let Some(id) = except_id {
        q = q.filter(users::id.ne(id));
    }
    diesel::select(diesel::dsl::exists(q))
        .get_result(conn)
        .await
}

pub async fn insert(conn: &mut AsyncPgConnection, u: &NewUser<'_>) -> QueryResult<UserRow> {
    diesel::insert_into(users::table)
        .values((
            users::username.eq(u.username),
            users::email.eq(u.email),
            users::password_hash.eq(u.password_hash),
            users::role.eq(u.role.as_str()),
        ))
        .returning(UserRow::as_returning())
        .get_result(conn)
        .await
}

pub async fn any_admin(conn: &mut AsyncPgConnection) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        users::table.filter(users::role.eq("admin")),
    ))
    .get_result(conn)
    .await
}

pub async fn update_email(
    conn: &mut AsyncPgConnection,
    id: i64,
    email: &str,
) -> QueryResult<usize> {
    diesel::update(users::table.filter(users::id.eq(id)))
        .set((
            users::email.eq(email),
            users::version.eq(users::version + 1),
            users::updated_at.eq(diesel::dsl::now),
        ))
        .execute(conn)
        .await
}

/// New password hash; moves the session epoch on, so every earlier access token stops working.
pub async fn update_password(
    conn: &mut AsyncPgConnection,
    id: i64,
    hash: &str,
) -> QueryResult<usize> {
    diesel::update(users::table.filter(users::id.eq(id)))
        .set((
            users::password_hash.eq(hash),
            users::session_epoch.eq(users::session_epoch + 1),
            users::version.eq(users::version + 1),
            users::updated_at.eq(diesel::dsl::now),
        ))
        .execute(conn)
        .await
}

pub async fn delete(conn: &mut AsyncPgConnection, id: i64) -> QueryResult<usize> {
    diesel::delete(users::table.filter(users::id.eq(id)))
        .execute(conn)
        .await
}
