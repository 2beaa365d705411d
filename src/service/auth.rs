//! Authentication: argon2id passwords, HS256 access tokens with every registered claim checked,
//! and rotating single-use refresh tokens grouped in families.

use std::sync::OnceLock;
use std::time::Duration;

use argon2::{
    password_hash::SaltString, Algorithm, Argon2, Params, PasswordHash, PasswordHasher,
    PasswordVerifier, Version,
};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use chrono::Utc;
use jsonwebtoken::{Algorithm as JwtAlgorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::app::{Actor, App, Ctx};
use crate::config::Config;
use crate::db::read;
use crate::domain::Role;
use crate::error::{AppError, AppResult, AuthFailure};
use crate::repo;

/// Leeway for `exp`/`nbf`/`iat` between machines.
const LEEWAY_SECS: u64 = 30;

pub struct AuthKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    issuer: String,
    audience: String,
    access_ttl: Duration,
    refresh_ttl: Duration,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub role: String,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    pub iss: String,
    pub aud: String,
    pub jti: String,
    /// The user's session epoch when the token was issued; a password change moves it on.
    pub sep: i32,
}

/// The answer of `POST /v1/token` and of the `login` mutation.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TokenPair {
    pub access_token: String,
    #[schema(example = "Bearer")]
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    pub refresh_token: String,
}

impl AuthKeys {
    pub fn new(config: &Config) -> AuthKeys {
        let mut validation = Validation::new(JwtAlgorithm::HS256);
        validation.algorithms = vec![JwtAlgorithm::HS256];
        validation.leeway = LEEWAY_SECS;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.set_issuer(&[&config.jwt_issuer]);
        validation.set_audience(&[&config.jwt_audience]);
        validation.set_required_spec_claims(&["exp", "nbf", "iat", "sub", "iss", "aud", "jti"]);
        AuthKeys {
            encoding: EncodingKey::from_secret(&config.jwt_secret),
            decoding: DecodingKey::from_secret(&config.jwt_secret),
            validation,
            issuer: config.jwt_issuer.clone(),
            audience: config.jwt_audience.clone(),
            access_ttl: config.access_token_ttl,
            refresh_ttl: config.refresh_token_ttl,
        }
    }

    pub fn issue_access(&self, user_id: i64, role: Role, session_epoch: i32) -> AppResult<String> {
        let now = Utc::now().timestamp();
        let claims = Claims {
            sub: user_id.to_string(),
            role: role.as_str().to_owned(),
            iat: now,
            nbf: now,
            exp: now + self.access_ttl.as_secs() as i64,
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            jti: Uuid::new_v4().to_string(),
            sep: session_epoch,
        };
        jsonwebtoken::encode(&Header::new(JwtAlgorithm::HS256), &claims, &self.encoding)
            .map_err(AppError::internal)
    }

    /// Checks signature, algorithm and every registered claim. `iat` in the future is refused too.
    pub fn verify(&self, token: &str) -> AppResult<Claims> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|_| AppError::Unauthenticated(AuthFailure::InvalidToken))?;
        if data.claims.iat > Utc::now().timestamp() + LEEWAY_SECS as i64 {
            return Err(AppError::Unauthenticated(AuthFailure::InvalidToken));
        }
        Ok(data.claims)
    }
}

fn argon2() -> Argon2<'static> {
    // OWASP: argon2id, m = 19 MiB, t = 2, p = 1.
    Argon2::new(
        Algorithm::Argon2id,
        Version::V0x13,
        Params::new(19 * 1024, 2, 1, None).expect("valid argon2 params"),
    )
}

/// Hashes on the blocking pool, never on the async runtime.
pub async fn hash_password(password: String) -> AppResult<String> {
    tokio::task::spawn_blocking(move || {
        let mut salt = [0u8; 16];
        rand::rng().fill_bytes(&mut salt);
        let salt = SaltString::encode_b64(&salt).map_err(|e| anyhow::anyhow!("salt: {e}"))?;
        argon2()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| anyhow::anyhow!("hashing: {e}"))
    })
    .await
    .map_err(AppError::internal)?
    .map_err(AppError::Internal)
}

/// Verifies on the blocking pool. With `None` it checks against a fixed dummy hash, so an unknown
/// user costs the same time as a wrong password; a dummy check never succeeds.
pub async fn verify_password(password: String, hash: Option<String>) -> AppResult<bool> {
    static DUMMY: OnceLock<String> = OnceLock::new();
    tokio::task::spawn_blocking(move || {
        let real = hash.is_some();
        let hash = hash.unwrap_or_else(|| {
            DUMMY
                .get_or_init(|| {
                    let salt = SaltString::encode_b64(b"bookstore-dummy-salt").expect("salt");
                    argon2()
                        .hash_password(b"not a real password", &salt)
                        .expect("hash")
                        .to_string()
                })
                .clone()
        });
        let matches = match PasswordHash::new(&hash) {
            Ok(parsed) => argon2()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok(),
            Err(_) => false,
        };
        real && matches
    })
    .await
    .map_err(AppError::internal)
}

fn new_refresh_token() -> (String, Vec<u8>) {
    let mut raw = [0u8; 32];
    rand::rng().fill_bytes(&mut raw);
    let token = URL_SAFE_NO_PAD.encode(raw);
    let hash = Sha256::digest(token.as_bytes()).to_vec();
    (token, hash)
}

fn refresh_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

impl App {
    /// The caller behind a bearer token: valid signature and claims, the user still exists, and
    /// the password was not changed since the token was issued.
    pub async fn authenticate(&self, token: &str, ctx: &Ctx) -> AppResult<Actor> {
        let claims = self.auth.verify(token)?;
        let user_id: i64 = claims
            .sub
            .parse()
            .map_err(|_| AppError::Unauthenticated(AuthFailure::InvalidToken))?;
        // Token checks must see the current session epoch: the primary.
        let user = read!(self.db, &ctx.stats, None, |c| Ok(repo::users::by_id(
            c, user_id
        )
        .await?))?;
        match user {
            Some(u) if u.session_epoch == claims.sep => Ok(Actor {
                user_id: u.id,
                role: u.role(),
            }),
            _ => Err(AppError::Unauthenticated(AuthFailure::InvalidToken)),
        }
    }

    /// Password grant. Unknown user and wrong password give the same error after the same work.
    /// Both doors (`POST /v1/token`, the `login` mutation) share the login rate limit, counted
    /// per client IP + username and per client IP before any work is done.
    pub async fn login(
        &self,
        ctx: &Ctx,
        client: Option<std::net::IpAddr>,
        username: &str,
        password: &str,
    ) -> AppResult<TokenPair> {
        if let Err(refused) = self.limiter.check_login(client, username).await {
            tracing::warn!(client_ip = ?client, "login rate limit reached");
            return Err(AppError::RateLimited {
                retry_after_secs: refused.retry_after_secs(),
            });
        }
        let invalid = || AppError::Unauthenticated(AuthFailure::InvalidCredentials);
        // A NUL cannot be in any stored username (PostgreSQL text), so it is a wrong login.
        if username.len() > 254
            || password.len() > 1024
            || !crate::domain::validate::is_sql_text(username)
        {
            return Err(invalid());
        }
        let user = {
            read!(self.db, &ctx.stats, None, |c| Ok(repo::users::by_username(
                c, username
            )
            .await?))?
        };
        let ok = verify_password(
            password.to_owned(),
            user.as_ref().map(|u| u.password_hash.clone()),
        )
        .await?;
        match user {
            Some(u) if ok => {
                self.issue_pair(ctx, u.id, u.role(), u.session_epoch, Uuid::new_v4())
                    .await
            }
            _ => Err(invalid()),
        }
    }

    /// Refresh grant: a refresh token works once. Presenting a used one revokes its whole family
    /// (the legitimate holder and the thief both have to log in again).
    pub async fn refresh(&self, ctx: &Ctx, refresh_token: &str) -> AppResult<TokenPair> {
        let hash = refresh_hash(refresh_token);
        let outcome = self
            .write(ctx, move |c| {
                Box::pin(async move { Ok(repo::tokens::redeem(c, &hash).await?) })
            })
            .await?;
        match outcome {
            repo::tokens::Redeemed::Fresh { user_id, family_id } => {
                let user = {
                    read!(self.db, &ctx.stats, None, |c| Ok(repo::users::by_id(
                        c, user_id
                    )
                    .await?))?
                };
                let user =
                    user.ok_or(AppError::Unauthenticated(AuthFailure::InvalidCredentials))?;
                self.issue_pair(ctx, user.id, user.role(), user.session_epoch, family_id)
                    .await
            }
            repo::tokens::Redeemed::Replayed => {
                tracing::warn!("refresh token reused: its family is revoked");
                Err(AppError::Unauthenticated(AuthFailure::InvalidCredentials))
            }
            repo::tokens::Redeemed::Invalid => {
                Err(AppError::Unauthenticated(AuthFailure::InvalidCredentials))
            }
        }
    }

    async fn issue_pair(
        &self,
        ctx: &Ctx,
        user_id: i64,
        role: Role,
        epoch: i32,
        family: Uuid,
    ) -> AppResult<TokenPair> {
        let access_token = self.auth.issue_access(user_id, role, epoch)?;
        let (refresh_token, hash) = new_refresh_token();
        let expires_at = Utc::now() + self.auth.refresh_ttl;
        self.write(ctx, move |c| {
            Box::pin(async move {
                Ok(repo::tokens::insert(c, user_id, family, &hash, expires_at).await?)
            })
        })
        .await?;
        Ok(TokenPair {
            access_token,
            token_type: "Bearer",
            expires_in: self.auth.access_ttl.as_secs(),
            refresh_token,
        })
    }
}

/// The token of an `Authorization` value (`Bearer <token>`, the scheme in any case), from an HTTP
/// header or a graphql-transport-ws `connection_init` payload alike; anything else is an invalid
/// token (401 / `UNAUTHENTICATED`), never silently anonymous.
pub fn bearer_credentials(value: &str) -> AppResult<&str> {
    let invalid = || AppError::Unauthenticated(AuthFailure::InvalidToken);
    let (scheme, token) = value.trim().split_once(' ').ok_or_else(invalid)?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(invalid());
    }
    Ok(token.trim())
}
