//! Users: creation by admins, the signed-in user's own account, the start-up admin.

use crate::app::{App, Ctx};
use crate::db::read;
use crate::domain::{validate::Check, Email, Password, Role, Username};
use crate::error::{AppError, AppResult};
use crate::model::User;
use crate::repo;
use crate::service::input::{Input, UserInput, UserUpdate};
use crate::service::{require_role, signed_in, ADMINS};

impl App {
    /// Admin only: `{username, email, password, role}`.
    pub async fn create_user(&self, ctx: &Ctx, input: impl Input<UserInput>) -> AppResult<User> {
        require_role(ctx, ADMINS)?;
        let received = input.read()?;
        let mut c = Check::new(&received.unknown);
        let f = &received.input;
        let username = c.username("username", &f.username, true);
        let email = c.email("email", &f.email, true);
        let password = c.password("password", &f.password, true);
        let role = c.role("role", &f.role, true);
        c.finish()?;
        let (Some(username), Some(email), Some(password), Some(role)) =
            (username, email, password, role)
        else {
            return Err(AppError::internal(anyhow::anyhow!(
                "validated fields missing"
            )));
        };
        self.insert_user(ctx, username, email, password, role).await
    }

    async fn insert_user(
        &self,
        ctx: &Ctx,
        username: Username,
        email: Email,
        password: Password,
        role: Role,
    ) -> AppResult<User> {
        let hash = super::auth::hash_password(password.expose().to_owned()).await?;
        self.write(ctx, move |c| {
            Box::pin(async move {
                if repo::users::email_taken(c, email.as_str(), None).await? {
                    return Err(AppError::Conflict("the e-mail address is taken".into()));
                }
                let row = repo::users::insert(
                    c,
                    &repo::users::NewUser {
                        username: username.as_str(),
                        email: email.as_str(),
                        password_hash: &hash,
                        role,
                    },
                )
                .await?;
                Ok(row.to_user())
            })
        })
        .await
    }

    /// The signed-in user.
    pub async fn me(&self, ctx: &Ctx) -> AppResult<User> {
        let actor = signed_in(ctx)?;
        read!(self.db, &ctx.stats, None, |c| Ok(repo::users::by_id(
            c,
            actor.user_id
        )
        .await?))?
        .map(|u| u.to_user())
        .ok_or(AppError::not_found("user"))
    }

    /// `{email?, password?, current_password?}`: a new password needs the current one, and ends
    /// every session (access tokens and refresh tokens) issued before it.
    pub async fn update_me(&self, ctx: &Ctx, input: impl Input<UserUpdate>) -> AppResult<User> {
        let actor = signed_in(ctx)?.clone();
        let received = input.read()?;
        let mut c = Check::new(&received.unknown);
        let f = &received.input;
        let email = c.email("email", &f.email, false);
        let password = c.password("password", &f.password, false);
        let current = c
            .string("current_password", &f.current_password, false)
            .map(str::to_owned);
        if !f.email.is_sent() && !f.password.is_sent() {
            c.push("", "send email and/or password");
        }
        if password.is_some() && current.is_none() {
            c.push("current_password", "is required to change the password");
        }
        c.finish()?;
        let existing = {
            read!(self.db, &ctx.stats, None, |c| Ok(repo::users::by_id(
                c,
                actor.user_id
            )
            .await?))?
            .ok_or(AppError::not_found("user"))?
        };
        let new_hash = match (&password, current) {
            (Some(p), Some(current)) => {
                if !super::auth::verify_password(current, Some(existing.password_hash.clone()))
                    .await?
                {
                    return Err(AppError::field(
                        "current_password",
                        "is not the current password",
                    ));
                }
                Some(super::auth::hash_password(p.expose().to_owned()).await?)
            }
            _ => None,
        };
        let id = actor.user_id;
        self.write(ctx, move |c| {
            Box::pin(async move {
                if let Some(email) = &email {
                    if repo::users::email_taken(c, email.as_str(), Some(id)).await? {
                        return Err(AppError::Conflict("the e-mail address is taken".into()));
                    }
                    repo::users::update_email(c, id, email.as_str()).await?;
                }
                if let Some(hash) = &new_hash {
                    repo::users::update_password(c, id, hash).await?;
                    repo::tokens::revoke_user(c, id).await?;
                }
                repo::users::by_id(c, id)
                    .await?
                    .map(|u| u.to_user())
                    .ok_or(AppError::not_found("user"))
            })
        })
        .await
    }

    /// Deletes the signed-in user's account; its refresh tokens go with it (cascade) and its
    /// access tokens stop working because the user no longer exists.
    pub async fn delete_me(&self, ctx: &Ctx) -> AppResult<()> {
        let id = signed_in(ctx)?.user_id;
        self.write(ctx, move |c| {
            Box::pin(async move {
                match repo::users::delete(c, id).await? {
                    0 => Err(AppError::not_found("user")),
                    _ => Ok(()),
                }
            })
        })
        .await
    }

    /// Creates an admin unless one exists (start-up with `BOOKSTORE_ADMIN_USERNAME`/`_PASSWORD`).
    pub async fn ensure_admin(
        &self,
        username: &str,
        password: &str,
        email: Option<&str>,
    ) -> anyhow::Result<bool> {
        let ctx = Ctx::anonymous();
        {
            if read!(self.db, &ctx.stats, None, |c| Ok(
                repo::users::any_admin(c).await?
            ))? {
                return Ok(false);
            }
        }
        match self
            .create_user_unchecked(username, email, password, Role::Admin)
            .await
        {
            Ok(_) => Ok(true),
            Err(e) => {
                // Several replicas starting at once race to create it: the losers find the
                // winner's admin and go on instead of failing their start-up.
                let mut conn = self.db.conn(&ctx.stats).await?;
                if repo::users::any_admin(&mut conn).await? {
                    Ok(false)
                } else {
                    Err(e)
                }
            }
        }
    }

    /// Creates a user without an acting admin (CLI, start-up, demo seed). Validates like the API.
    pub async fn create_user_unchecked(
        &self,
        username: &str,
        email: Option<&str>,
        password: &str,
        role: Role,
    ) -> anyhow::Result<User> {
        let default_email = format!("{username}@localhost.localdomain");
        let mut c = Check::default();
        let (u, e, p) = (
            c.username("username", &username.to_owned().into(), true),
            c.email(
                "email",
                &email.unwrap_or(&default_email).to_owned().into(),
                true,
            ),
            c.password("password", &password.to_owned().into(), true),
        );
        c.finish().map_err(describe)?;
        let (Some(u), Some(e), Some(p)) = (u, e, p) else {
            anyhow::bail!("invalid user")
        };
        self.insert_user(&Ctx::anonymous(), u, e, p, role)
            .await
            .map_err(describe)
    }
}

fn describe(e: AppError) -> anyhow::Error {
    match e {
        AppError::Validation(errors) => anyhow::anyhow!(
            "{}",
            errors
                .iter()
                .map(|e| format!("{} {}", e.field, e.message))
                .collect::<Vec<_>>()
                .join("; ")
        ),
        other => anyhow::anyhow!("{}", other.public_message()),
    }
}
