//! The `Mutation` root: each field is one service call, guarded by the same roles as REST.

use async_graphql::{Context, Object, ID};

use super::context::{app, request_ctx, GqlResult, RoleGuard};
use super::types::{
    AuthPayload, Author, Book, CreateAuthorInput, CreateBookInput, CreateMagazineInput,
    CreateUserInput, Magazine, UpdateBookInput, UpdateMagazineInput, User,
};
use crate::service::input::{
    AuthorInput, AuthorRename, BookInput, BookUpdate, MagazineInput, Received, UserInput,
};
use crate::service::{ADMINS, EDITORS};

pub struct MutationRoot;

#[Object(name = "Mutation")]
impl MutationRoot {
    /// Password login; a failure is `UNAUTHENTICATED`.
    async fn login(
        &self,
        ctx: &Context<'_>,
        username: String,
        password: String,
    ) -> async_graphql::Result<AuthPayload> {
        let client = ctx.data_opt::<crate::ratelimit::ClientIp>().map(|c| c.0);
        let pair = app(ctx)
            .login(&request_ctx(ctx), client, &username, &password)
            .await
            .gql()?;
        Ok(AuthPayload {
            access_token: pair.access_token,
            token_type: pair.token_type.to_owned(),
            expires_in: i32::try_from(pair.expires_in).unwrap_or(i32::MAX),
            refresh_token: pair.refresh_token,
        })
    }

    #[graphql(guard = "RoleGuard(EDITORS)")]
    async fn create_book(
        &self,
        ctx: &Context<'_>,
        input: CreateBookInput,
    ) -> async_graphql::Result<Book> {
        app(ctx)
            .create_book(&request_ctx(ctx), Received::from(BookInput::from(input)))
            .await
            .map(Book::from)
            .gql()
    }

    /// Partial update: only the fields given change. `expectedVersion` gives `CONFLICT` when stale.
    #[graphql(guard = "RoleGuard(EDITORS)")]
    async fn update_book(
        &self,
        ctx: &Context<'_>,
        isbn: String,
        input: UpdateBookInput,
        expected_version: Option<i32>,
    ) -> async_graphql::Result<Book> {
        app(ctx)
            .update_book(
                &request_ctx(ctx),
                &isbn,
                Received::from(BookUpdate::from(input)),
                expected_version,
                true,
            )
            .await
            .map(Book::from)
            .gql()
    }

    #[graphql(guard = "RoleGuard(ADMINS)")]
    async fn delete_book(&self, ctx: &Context<'_>, isbn: String) -> async_graphql::Result<bool> {
        app(ctx)
            .delete_book(&request_ctx(ctx), &isbn, None)
            .await
            .map(|_| true)
            .gql()
    }

    #[graphql(guard = "RoleGuard(EDITORS)")]
    async fn create_author(
        &self,
        ctx: &Context<'_>,
        input: CreateAuthorInput,
    ) -> async_graphql::Result<Author> {
        app(ctx)
            .create_author(&request_ctx(ctx), Received::from(AuthorInput::from(input)))
            .await
            .map(Author)
            .gql()
    }

    #[graphql(guard = "RoleGuard(EDITORS)")]
    async fn rename_author(
        &self,
        ctx: &Context<'_>,
        id: ID,
        name: String,
        expected_version: Option<i32>,
    ) -> async_graphql::Result<Author> {
        let input = AuthorRename { name: name.into() };
        app(ctx)
            .update_author(
                &request_ctx(ctx),
                &id,
                Received::from(input),
                expected_version,
            )
            .await
            .map(Author)
            .gql()
    }

    #[graphql(guard = "RoleGuard(ADMINS)")]
    async fn delete_author(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<bool> {
        app(ctx)
            .delete_author(&request_ctx(ctx), &id, None)
            .await
            .map(|_| true)
            .gql()
    }

    #[graphql(guard = "RoleGuard(EDITORS)")]
    async fn create_magazine(
        &self,
        ctx: &Context<'_>,
        input: CreateMagazineInput,
    ) -> async_graphql::Result<Magazine> {
        app(ctx)
            .create_magazine(
                &request_ctx(ctx),
                Received::from(MagazineInput::from(input)),
            )
            .await
            .map(Magazine)
            .gql()
    }

    #[graphql(guard = "RoleGuard(EDITORS)")]
    async fn update_magazine(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateMagazineInput,
        expected_version: Option<i32>,
    ) -> async_graphql::Result<Magazine> {
        app(ctx)
            .update_magazine(
                &request_ctx(ctx),
                &id,
                Received::from(MagazineInput::from(input)),
                expected_version,
                true,
            )
            .await
            .map(Magazine)
            .gql()
    }

    #[graphql(guard = "RoleGuard(ADMINS)")]
    async fn delete_magazine(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<bool> {
        app(ctx)
            .delete_magazine(&request_ctx(ctx), &id, None)
            .await
            .map(|_| true)
            .gql()
    }

    #[graphql(guard = "RoleGuard(ADMINS)")]
    async fn create_user(
        &self,
        ctx: &Context<'_>,
        input: CreateUserInput,
    ) -> async_graphql::Result<User> {
        app(ctx)
            .create_user(&request_ctx(ctx), Received::from(UserInput::from(input)))
            .await
            .map(User)
            .gql()
    }
}
