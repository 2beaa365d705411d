//! The `Query` root.

use async_graphql::{Context, Object, ID};

use super::context::{app, request_ctx, GqlResult};
use super::loaders::Loaders;
use super::types::{
    author_connection, check_first, full_authors_needed, load_author_map, magazine_connection,
    parse_id, Author, AuthorConnection, Book, BookConnection, BookFilter, BookOrder, Magazine,
    MagazineConnection, User,
};
use crate::domain::Category;
use crate::service::{books as book_service, PageArgs};

pub struct QueryRoot;

#[Object(name = "Query")]
impl QueryRoot {
    /// One book by ISBN (any accepted spelling); null when there is none.
    async fn book(&self, ctx: &Context<'_>, isbn: String) -> async_graphql::Result<Option<Book>> {
        let isbn = book_service::isbn_param(&isbn, "isbn").gql()?;
        Ok(ctx
            .data_unchecked::<Loaders>()
            .books
            .load_one(isbn.into_string())
            .await?
            .map(Book::from))
    }

    #[graphql(complexity = "crate::service::page_size_estimate(first) * child_complexity + 1")]
    async fn books(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 20)] first: Option<i32>,
        after: Option<String>,
        filter: Option<BookFilter>,
        order_by: Option<BookOrder>,
    ) -> async_graphql::Result<BookConnection> {
        let first = check_first(first)?;
        let mut args = book_service::BookListArgs::default();
        if let Some(f) = filter {
            args.filter = book_service::BookFilter {
                category: f.category,
                year: f.year,
                author_id: f
                    .author_id
                    .as_ref()
                    .map(|id| parse_id(id, "authorId"))
                    .transpose()?,
                title_contains: f.title_contains,
            };
        }
        if let Some(o) = order_by {
            args.sort = Some(o.field);
            args.order = Some(o.direction);
        }
        let (sort, order) = (args.sort(), args.order());
        let page = app(ctx)
            .list_books(
                &request_ctx(ctx),
                &args,
                &PageArgs::graphql(Some(first), after),
            )
            .await
            .gql()?;
        let authors = if full_authors_needed(ctx) {
            Some(load_author_map(ctx, &page.items).await?)
        } else {
            None
        };
        Ok(
            BookConnection::new(page, move |b| book_service::cursor_of(b, sort, order))
                .with_authors(authors),
        )
    }

    async fn author(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<Author>> {
        let id = parse_id(&id, "id")?;
        Ok(ctx
            .data_unchecked::<Loaders>()
            .authors
            .load_one(id)
            .await?
            .map(Author))
    }

    #[graphql(complexity = "crate::service::page_size_estimate(first) * child_complexity + 1")]
    async fn authors(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 20)] first: Option<i32>,
        after: Option<String>,
        name_contains: Option<String>,
    ) -> async_graphql::Result<AuthorConnection> {
        let first = check_first(first)?;
        let page = app(ctx)
            .list_authors(
                &request_ctx(ctx),
                name_contains.as_deref(),
                &PageArgs::graphql(Some(first), after),
            )
            .await
            .gql()?;
        Ok(author_connection(page))
    }

    async fn magazine(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<Magazine>> {
        let id = parse_id(&id, "id")?;
        match app(ctx).magazine(&request_ctx(ctx), id).await {
            Ok(m) => Ok(Some(Magazine(m))),
            Err(crate::error::AppError::NotFound(_)) => Ok(None),
            Err(e) => Err(e).gql(),
        }
    }

    #[graphql(complexity = "crate::service::page_size_estimate(first) * child_complexity + 1")]
    async fn magazines(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 20)] first: Option<i32>,
        after: Option<String>,
        category: Option<Category>,
    ) -> async_graphql::Result<MagazineConnection> {
        let first = check_first(first)?;
        let filter = crate::service::magazines::MagazineFilter {
            category,
            ..Default::default()
        };
        let page = app(ctx)
            .list_magazines(
                &request_ctx(ctx),
                &filter,
                &PageArgs::graphql(Some(first), after),
            )
            .await
            .gql()?;
        Ok(magazine_connection(page))
    }

    /// The signed-in user; null without a token.
    async fn me(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        let c = request_ctx(ctx);
        if c.actor.is_none() {
            return Ok(None);
        }
        app(ctx).me(&c).await.map(|u| Some(User(u))).gql()
    }
}
