//! Users: creation by admins, the signed-in user's own account, the start-up admin.

use serde_json::Value;

use crate::app::{App, Ctx};
use crate::domain::{validate::Fields, Email, Password, Role, Username};
use crate::error::{AppError, AppResult};
use crate::model::User;
use crate::repo;
use crate::service::{require_role, signed_in, ADMINS};

impl App {
    /// Admin only: `{username, email, password, role}`.
    pub async fn create_user(&self, ctx: &Ctx, input: &Value) -> AppResult<User> {
        require_role(ctx, ADMINS)?;
        let mut f = Fields::new(input, &["username", "email", "password", "role"])?;
        let username = f.username("username", true);
        let email = f.email("email", true);
        let password = f.password("password", true);
        let role = f.role("role", true);
        f.finish()?;
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
        let mut conn = self.db.conn(&ctx.stats).await?;
        repo::users::by_id(&mut conn, actor.user_id)
            .await?
            .map(|u| u.to_user())
            .ok_or(AppError::not_found("user"))
    }

    /// `{email?, password?, current_password?}`: a new password needs the current one, and ends
    /// every session (access tokens and refresh tokens) issued before it.
    pub async fn update_me(&self, ctx: &Ctx, input: &Value) -> AppResult<User> {
        let actor = signed_in(ctx)?.clone();
        let mut f = Fields::new(input, &["email", "password", "current_password"])?;
        let email = f.email("email", false);
        let password = f.password("password", false);
        let current = f.string("current_password", false).map(str::to_owned);
        if !f.has("email") && !f.has("password") {
            f.push("", "send email and/or password");
        }
        if password.is_some() && current.is_none() {
            f.push("current_password", "is required to change the password");
        }
        f.finish()?;
        let existing = {
            let mut conn = self.db.conn(&ctx.stats).await?;
            repo::users::by_id(&mut conn, actor.user_id)
                .await?
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
            let mut conn = self.db.conn(&ctx.stats).await?;
            if repo::users::any_admin(&mut conn).await? {
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
        let input = serde_json::json!({
            "username": username,
            "email": email.unwrap_or(&default_email),
            "password": password,
            "role": role.as_str(),
        });
        let mut f =
            Fields::new(&input, &["username", "email", "password", "role"]).map_err(describe)?;
        let (u, e, p) = (
            f.username("username", true),
            f.email("email", true),
            f.password("password", true),
        );
        f.finish().map_err(describe)?;
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
