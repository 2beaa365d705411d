//! The GraphQL door: async-graphql schema with limits, per-request loaders, HTTP and WebSocket
//! handlers, and the offline GraphiQL page.

pub mod context;
pub mod graphiql;
pub mod loaders;
pub mod mutation;
pub mod query;
pub mod subscription;
pub mod types;

use std::sync::Arc;

use async_graphql::{http::ALL_WEBSOCKET_PROTOCOLS, Schema};
use async_graphql_axum::{GraphQLProtocol, GraphQLResponse, GraphQLWebSocket};
use axum::{
    extract::{FromRef, RawQuery, State, WebSocketUpgrade},
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    routing::get,
    Extension, Router,
};
use serde_json::json;

use self::context::{Guards, RequestAuth};
use self::loaders::Loaders;
use self::mutation::MutationRoot;
use self::query::QueryRoot;
use self::subscription::{SubscriptionCount, SubscriptionRoot};
use crate::app::{AppState, Ctx};
use crate::db::QueryStats;
use crate::error::AppError;
use crate::http::extract::{bearer_token, JsonBody};

pub type BookstoreSchema = Schema<QueryRoot, MutationRoot, SubscriptionRoot>;

/// The schema without runtime data (for printing the SDL).
fn builder() -> async_graphql::SchemaBuilder<QueryRoot, MutationRoot, SubscriptionRoot> {
    Schema::build(QueryRoot, MutationRoot, SubscriptionRoot)
}

/// The printed SDL, as checked in at `schema.graphql`.
pub fn sdl() -> String {
    builder().finish().sdl()
}

/// The schema with the configured limits. Depth, complexity, aliases and directives are checked
/// while validating, before any resolver (and so any SQL) runs.
pub fn schema(app: &AppState) -> BookstoreSchema {
    let c = &app.config;
    let mut b = builder()
        .data(app.clone())
        .limit_depth(c.graphql_depth)
        .limit_complexity(c.graphql_complexity)
        .limit_directives(8)
        .limit_recursive_depth(64)
        .extension(Guards {
            max_aliases: c.graphql_aliases,
        });
    if !c.graphql_introspection {
        b = b.disable_introspection();
    }
    if c.is_production() {
        b = b.disable_suggestions();
    }
    b.finish()
}

#[derive(Clone)]
pub struct GraphqlState {
    app: AppState,
    schema: BookstoreSchema,
}

impl FromRef<GraphqlState> for AppState {
    fn from_ref(s: &GraphqlState) -> AppState {
        s.app.clone()
    }
}

pub fn routes(app: &AppState) -> Router<AppState> {
    let state = GraphqlState {
        app: app.clone(),
        schema: schema(app),
    };
    Router::new()
        .route("/graphql", get(graphql_get).post(graphql_post))
        .route("/graphql/ws", get(graphql_ws))
        .merge(graphiql::routes())
        .with_state(state)
}

/// A GraphQL-shaped error response for errors outside execution (HTTP-level refusals).
fn graphql_refusal(status: StatusCode, message: &str, code: &str) -> Response {
    let body = json!({ "errors": [{ "message": message, "extensions": { "code": code } }] });
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

async fn execute(
    state: &GraphqlState,
    headers: &HeaderMap,
    stats: Arc<QueryStats>,
    request: async_graphql::Request,
) -> Response {
    let token = match bearer_token(headers) {
        Ok(t) => t.map(str::to_owned),
        Err(e) => {
            return graphql_refusal(
                StatusCode::UNAUTHORIZED,
                &e.public_message(),
                e.graphql_code(),
            )
        }
    };
    let ctx = Ctx {
        actor: None,
        stats: stats.clone(),
    };
    let request = request
        .data(RequestAuth::new(token, stats))
        .data(Loaders::new(&state.app, &ctx));
    let mut response = state.schema.execute(request).await;
    // Errors raised before execution (syntax, validation, limits) carry no code yet.
    for e in &mut response.errors {
        let ext = e.extensions.get_or_insert_with(Default::default);
        if ext.get("code").is_none() {
            ext.set("code", "BAD_USER_INPUT");
        }
    }
    GraphQLResponse::from(response).into_response()
}

async fn graphql_post(
    State(state): State<GraphqlState>,
    Extension(stats): Extension<Arc<QueryStats>>,
    headers: HeaderMap,
    body: Result<JsonBody, AppError>,
) -> Response {
    let value = match body {
        Ok(JsonBody(v)) => v,
        Err(e) => return e.into_response(),
    };
    if value.is_array() {
        return graphql_refusal(
            StatusCode::BAD_REQUEST,
            "batched requests are not supported",
            "BAD_USER_INPUT",
        );
    }
    let request: async_graphql::Request = match serde_json::from_value(value) {
        Ok(r) => r,
        Err(e) => {
            return graphql_refusal(
                StatusCode::BAD_REQUEST,
                &format!("not a GraphQL request: {e}"),
                "BAD_USER_INPUT",
            )
        }
    };
    execute(&state, &headers, stats, request).await
}

/// `GET /graphql?query=...`: queries only (a mutation over GET is refused with 405).
async fn graphql_get(
    State(state): State<GraphqlState>,
    Extension(stats): Extension<Arc<QueryStats>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let request = match async_graphql::http::parse_query_string(query.as_deref().unwrap_or("")) {
        Ok(r) => r,
        Err(e) => {
            return graphql_refusal(
                StatusCode::BAD_REQUEST,
                &format!("bad GraphQL GET request: {e}"),
                "BAD_USER_INPUT",
            )
        }
    };
    if let Ok(doc) = async_graphql::parser::parse_query(&request.query) {
        use async_graphql::parser::types::OperationType;
        let not_query = doc
            .operations
            .iter()
            .any(|(_, op)| op.node.ty != OperationType::Query);
        if not_query {
            let mut res = graphql_refusal(
                StatusCode::METHOD_NOT_ALLOWED,
                "only queries may be sent with GET; send mutations with POST",
                "BAD_USER_INPUT",
            );
            res.headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("POST"));
            return res;
        }
    }
    execute(&state, &headers, stats, request).await
}

/// graphql-transport-ws (and the legacy graphql-ws) at `/graphql/ws`. The token may come in the
/// `connection_init` payload as `{"Authorization": "Bearer ..."}`; none is needed.
async fn graphql_ws(
    State(state): State<GraphqlState>,
    protocol: GraphQLProtocol,
    upgrade: WebSocketUpgrade,
) -> Response {
    let app = state.app.clone();
    let schema = state.schema.clone();
    upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |socket| async move {
            GraphQLWebSocket::new(socket, schema, protocol)
                .on_connection_init(move |payload| async move {
                    let stats = Arc::new(QueryStats::default());
                    let token = payload
                        .get("Authorization")
                        .or_else(|| payload.get("authorization"))
                        .and_then(|v| v.as_str())
                        .map(str::to_owned);
                    let actor = match token {
                        None => None,
                        Some(value) => {
                            let mut h = HeaderMap::new();
                            let v = HeaderValue::from_str(&value)
                                .map_err(|_| async_graphql::Error::new("invalid token"))?;
                            h.insert(header::AUTHORIZATION, v);
                            let token = bearer_token(&h)
                                .ok()
                                .flatten()
                                .ok_or_else(|| async_graphql::Error::new("invalid token"))?;
                            let ctx = Ctx {
                                actor: None,
                                stats: stats.clone(),
                            };
                            Some(
                                app.authenticate(token, &ctx)
                                    .await
                                    .map_err(|e| async_graphql::Error::new(e.public_message()))?,
                            )
                        }
                    };
                    let ctx = Ctx {
                        actor: None,
                        stats: stats.clone(),
                    };
                    let mut data = async_graphql::Data::default();
                    data.insert(Loaders::new(&app, &ctx));
                    data.insert(RequestAuth::authenticated(actor, stats));
                    data.insert(SubscriptionCount::default());
                    Ok(data)
                })
                .serve()
                .await;
        })
}
