//! The OpenAPI 3.1 description, generated from the handlers' annotations.

use utoipa::openapi::header::Header;
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::response::{Response, Responses};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{
    Content, KnownFormat, Object, ObjectBuilder, Ref, RefOr, Schema, SchemaFormat, Type,
};
use utoipa::{Modify, OpenApi};

use super::problem::PROBLEM_JSON;
use super::{authors, books, magazines, ops, problem::Problem, users};
use crate::domain::validate::ISBN_PATTERN;
use crate::domain::{BookSort, Category, Frequency, Role, SortOrder};
use crate::error::FieldError;
use crate::model::{Author, AuthorRef, Book, Magazine, Page, User};
use crate::service::auth::TokenPair;
use crate::service::{MAX_PAGE, MAX_SEARCH};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Bookstore Gateway",
        version = "1",
        description = "REST API of the bookstore. Every path is also served without the `/v1` prefix when the request \
carries `Accept-Version: 1` (or no Accept-Version). Errors are RFC 9457 `application/problem+json`. Lists are keyset \
paginated: pass `next_cursor` back as `cursor`. Single-item GETs return `ETag`; writes honour `If-Match`."
    ),
    paths(
        users::token, users::create_user, users::get_user, users::update_user, users::delete_user,
        authors::create_author, authors::list_authors, authors::get_author, authors::rename_author,
        authors::patch_author, authors::delete_author, authors::author_books,
        books::create_book, books::list_books, books::filter_books, books::get_book, books::replace_book, books::delete_book,
        magazines::create_magazine, magazines::list_magazines, magazines::get_magazine,
        magazines::replace_magazine, magazines::delete_magazine,
        ops::healthz, ops::readyz,
    ),
    components(schemas(Problem, FieldError, Category, Frequency, Role, BookSort, SortOrder, Book, AuthorRef, Author, Magazine, User, TokenPair, Page<Book>, Page<Author>, Page<Magazine>)),
    modifiers(&BearerAuth, &Conventions),
    tags(
        (name = "auth", description = "OAuth2 password and refresh grants"),
        (name = "users"), (name = "authors"), (name = "books"), (name = "magazines"), (name = "operations"),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// What every operation shares, written once here rather than on each handler: the error answers
/// each kind of operation can give (all `application/problem+json` with the `Problem` schema),
/// the bounds of path keys, and the response headers.
struct Conventions;

fn header(description: &str) -> Header {
    let mut h = Header::new(Object::with_type(Type::String));
    h.description = Some(description.to_owned());
    h
}

fn integer_header(description: &str) -> Header {
    let mut h = Header::new(Object::with_type(Type::Integer));
    h.description = Some(description.to_owned());
    h
}

fn problem_response(description: &str) -> Response {
    Response::new(description)
}

/// Puts `status` in `responses` unless the handler's annotation already has it.
fn ensure(responses: &mut Responses, status: &str, description: &str) {
    responses
        .responses
        .entry(status.to_owned())
        .or_insert_with(|| RefOr::T(problem_response(description)));
}

impl Modify for Conventions {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (path, item) in openapi.paths.paths.iter_mut() {
            let ops = [
                ("get", item.get.as_mut()),
                ("put", item.put.as_mut()),
                ("post", item.post.as_mut()),
                ("delete", item.delete.as_mut()),
                ("patch", item.patch.as_mut()),
            ];
            for (method, op) in ops {
                if let Some(op) = op {
                    conventions(path, method, op);
                }
            }
        }
    }
}

fn conventions(path: &str, method: &str, op: &mut Operation) {
    let probe = matches!(path, "/healthz" | "/readyz");
    let secured = op.security.is_some();
    let json_body = op
        .request_body
        .as_ref()
        .is_some_and(|b| b.content.contains_key("application/json"));
    let any_body = op.request_body.is_some();
    let keyed = path.contains('{');
    let queried = op.parameters.as_ref().is_some_and(|ps| {
        ps.iter()
            .any(|p| matches!(p.parameter_in, ParameterIn::Query))
    });
    // Bounds the service owns, read from its constants: page sizes and text searches.
    for p in op.parameters.iter_mut().flatten() {
        if !matches!(p.parameter_in, ParameterIn::Query) {
            continue;
        }
        match p.name.as_str() {
            "limit" => {
                p.schema = Some(RefOr::T(Schema::Object(
                    ObjectBuilder::new()
                        .schema_type(Type::Integer)
                        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int32)))
                        .minimum(Some(1.0))
                        .maximum(Some(MAX_PAGE as f64))
                        .build(),
                )));
            }
            "q" | "name" => {
                p.schema = Some(RefOr::T(Schema::Object(
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .max_length(Some(MAX_SEARCH))
                        .pattern(Some(r"^[^\u0000]*$"))
                        .build(),
                )));
            }
            _ => {}
        }
    }
    // Path keys: ids are positive integers, ISBNs any spelling the server reads.
    for p in op.parameters.iter_mut().flatten() {
        if !matches!(p.parameter_in, ParameterIn::Path) {
            continue;
        }
        match p.name.as_str() {
            "id" => {
                p.schema = Some(RefOr::T(Schema::Object(
                    ObjectBuilder::new()
                        .schema_type(Type::Integer)
                        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
                        .minimum(Some(1.0))
                        .build(),
                )));
                p.description = Some("A positive integer id".into());
            }
            "isbn" => {
                p.schema = Some(RefOr::T(Schema::Object(
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .pattern(Some(ISBN_PATTERN))
                        .examples(["9780306406157"])
                        .build(),
                )));
                p.description = Some(
                    "ISBN-13 or ISBN-10, digits optionally separated by hyphens or spaces".into(),
                );
            }
            _ => {}
        }
    }
    let r = &mut op.responses;
    if secured {
        // Before anything about the input: an anonymous write is a 401, a write without the
        // role a 403, whatever was sent.
        ensure(r, "401", "No token, or one that does not work");
        let own_account = path.ends_with("/user") && method != "post";
        if !own_account {
            ensure(r, "403", "Signed in, but the role does not allow it");
        }
    }
    if !probe {
        // A token that does not work is refused on every route, never read as anonymous.
        ensure(
            r,
            "401",
            "The token sent does not work (expired, revoked, or not ours)",
        );
    }
    if json_body || keyed || queried || path.ends_with("/token") {
        let what = match (any_body, keyed, queried) {
            (true, true, _) => "Malformed JSON, or a bad path key",
            (true, false, _) => "Malformed body",
            (false, true, _) => "Bad path key",
            _ => "Bad query parameter (named in `detail`)",
        };
        ensure(r, "400", what);
    }
    if any_body {
        ensure(r, "413", "Body over the size limit");
        ensure(r, "415", "Body of a media type the operation does not read");
    }
    if json_body {
        ensure(r, "422", "Invalid fields: `errors` lists every one");
    }
    if !probe {
        ensure(
            r,
            "429",
            "Too many requests; retry after `Retry-After` seconds",
        );
        ensure(
            r,
            "503",
            "Database unreachable; retry after `Retry-After` seconds",
        );
    }
    ensure(
        r,
        "500",
        "Internal error (the body says nothing about the cause)",
    );

    let single = method == "get" && keyed && !path.ends_with("/book");
    let list = method == "get" && !keyed && !probe && !path.ends_with("/user")
        || method == "get" && path.ends_with("/book");
    for (status, response) in r.responses.iter_mut() {
        let RefOr::T(response) = response else {
            continue;
        };
        let code: u16 = status.parse().unwrap_or(0);
        if code >= 400 {
            response.content.shift_remove("application/json");
            response.content.insert(
                PROBLEM_JSON.to_owned(),
                Content::new(Some(RefOr::Ref(Ref::from_schema_name("Problem")))),
            );
        }
        let h = &mut response.headers;
        match code {
            401 => {
                h.insert(
                    "WWW-Authenticate".into(),
                    header("`Bearer realm=\"bookstore\"`, with `error=\"invalid_token\"` when a token was sent"),
                );
            }
            429 | 503 => {
                h.insert(
                    "Retry-After".into(),
                    integer_header("Seconds to wait before retrying"),
                );
            }
            201 => {
                h.insert("Location".into(), header("Where the new resource is"));
                if !path.ends_with("/user") {
                    h.insert("ETag".into(), header("The new resource's version, quoted"));
                }
            }
            200 | 304 if single => {
                h.insert("ETag".into(), header("The resource's version, quoted"));
                h.insert(
                    "Cache-Control".into(),
                    header("`public, no-cache`: keep it, but revalidate (If-None-Match)"),
                );
                h.insert(
                    "Cache-Status".into(),
                    header("RFC 9211: whether the server's cache answered"),
                );
            }
            200 if list => {
                h.insert(
                    "Cache-Control".into(),
                    header("`public, no-cache`: keep it, but revalidate"),
                );
            }
            200 if path.ends_with("/user") || path.ends_with("/token") => {
                h.insert(
                    "Cache-Control".into(),
                    header("`no-store` (token) or `private, no-store` (the signed-in user)"),
                );
            }
            200 if matches!(method, "put" | "patch") => {
                h.insert("ETag".into(), header("The resource's new version, quoted"));
            }
            _ => {}
        }
    }
}

pub fn openapi() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}
