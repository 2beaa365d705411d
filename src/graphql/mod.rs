//! The GraphQL door: async-graphql schema with limits, per-request loaders, HTTP and WebSocket
//! handlers, and the offline GraphiQL page.

pub mod context;
pub mod graphiql;
pub mod loaders;
pub mod mutation;
pub mod negotiate;
pub mod query;
pub mod subscription;
pub mod types;
pub mod ws;

use std::sync::Arc;

use async_graphql::{http::ALL_WEBSOCKET_PROTOCOLS, Schema};
use async_graphql_axum::{GraphQLProtocol, GraphQLWebSocket};
use axum::{
    extract::{FromRef, RawQuery, State, WebSocketUpgrade},
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    routing::get,
    Extension, Router,
};
use serde_json::json;

use self::context::{AuthenticateAfterValidation, RequestAuth, SocketGuards};
use self::loaders::Loaders;
use self::mutation::MutationRoot;
use self::negotiate::MediaType;
use self::query::QueryRoot;
use self::subscription::{SubscriptionCount, SubscriptionRoot};
use crate::app::{AppState, Ctx};
use crate::db::QueryStats;
use crate::error::AppError;
use crate::http::extract::{bearer_token, JsonBody};
use crate::ratelimit::ClientIp;

pub type BookstoreSchema = Schema<QueryRoot, MutationRoot, SubscriptionRoot>;

/// The schema without runtime data (for printing the SDL).
fn builder() -> async_graphql::SchemaBuilder<QueryRoot, MutationRoot, SubscriptionRoot> {
    Schema::build(QueryRoot, MutationRoot, SubscriptionRoot)
}

/// The printed SDL, as checked in at `schema.graphql`.
pub fn sdl() -> String {
    builder().finish().sdl()
}

/// Which door a schema serves; they differ only in the extensions registered.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Door {
    /// HTTP without a token: no extension at all (aliases and the metric are handled by the HTTP
    /// handler), so async-graphql resolves fields without its per-field extension chain.
    Anonymous,
    /// HTTP with a token: authenticated after validation.
    Token,
    /// WebSocket (already authenticated at `connection_init`): aliases and the metric inside.
    Socket,
}

/// The depth limit of introspection-only operations (see [`context::introspection_use`]):
/// graphql-js's standard introspection query with every option on is 15 deep, more than the
/// depth limit of ordinary queries (12); a much deeper introspection query is still refused.
/// Apollo Router and Hot Chocolate measure introspection apart in the same way.
pub const INTROSPECTION_MAX_DEPTH: usize = 20;

/// The schema with the configured limits. Depth, complexity, aliases and directives are checked
/// while validating, before any resolver (and so any SQL) runs. `introspection` selects the
/// limits of introspection-only operations (depth [`INTROSPECTION_MAX_DEPTH`]).
fn schema(app: &AppState, door: Door, introspection: bool) -> BookstoreSchema {
    let c = &app.config;
    let depth = if introspection {
        INTROSPECTION_MAX_DEPTH.max(c.graphql_depth)
    } else {
        c.graphql_depth
    };
    let mut b = builder()
        .data(app.clone())
        .limit_depth(depth)
        .limit_complexity(c.graphql_complexity)
        .limit_directives(8)
        .limit_recursive_depth(64);
    match door {
        Door::Anonymous => {}
        Door::Token => b = b.extension(AuthenticateAfterValidation),
        Door::Socket => {
            b = b.extension(SocketGuards {
                max_aliases: c.graphql_aliases,
                introspection: c.graphql_introspection,
            })
        }
    }
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
    anonymous: BookstoreSchema,
    with_token: BookstoreSchema,
    /// The same two doors with the introspection limits, for introspection-only operations.
    introspection_anonymous: BookstoreSchema,
    introspection_with_token: BookstoreSchema,
    socket: BookstoreSchema,
}

impl FromRef<GraphqlState> for AppState {
    fn from_ref(s: &GraphqlState) -> AppState {
        s.app.clone()
    }
}

pub fn routes(app: &AppState) -> Router<AppState> {
    let state = GraphqlState {
        app: app.clone(),
        anonymous: schema(app, Door::Anonymous, false),
        with_token: schema(app, Door::Token, false),
        introspection_anonymous: schema(app, Door::Anonymous, true),
        introspection_with_token: schema(app, Door::Token, true),
        socket: schema(app, Door::Socket, false),
    };
    Router::new()
        .route("/graphql", get(graphql_get).post(graphql_post))
        .route("/graphql/ws", get(graphql_ws))
        .merge(graphiql::routes())
        .with_state(state)
}

/// A GraphQL-shaped error response for errors outside execution (HTTP-level refusals): no
/// `data` key, in the negotiated media type.
fn graphql_refusal(status: StatusCode, message: &str, code: &str, media: MediaType) -> Response {
    let body = json!({ "errors": [{ "message": message, "extensions": { "code": code } }] });
    (
        status,
        [(header::CONTENT_TYPE, media.content_type())],
        body.to_string(),
    )
        .into_response()
}

/// Automatic persisted queries (Apollo's `persistedQuery` extension, version 1), stored in the
/// shared cache (Redis when configured) so they work across replicas: a request with only the
/// hash gets the stored query, or `PERSISTED_QUERY_NOT_FOUND` so the client sends it once in full.
async fn persisted_query(
    app: &AppState,
    mut request: async_graphql::Request,
    media: MediaType,
) -> Result<async_graphql::Request, Response> {
    let Some(ext) = request.extensions.remove("persistedQuery") else {
        return Ok(request);
    };
    let ext = ext.into_json().unwrap_or_default();
    let version = ext.get("version").and_then(|v| v.as_i64());
    let hash = ext
        .get("sha256Hash")
        .and_then(|v| v.as_str())
        .map(str::to_ascii_lowercase);
    let (Some(1), Some(hash)) = (version, hash) else {
        return Err(graphql_refusal(
            StatusCode::BAD_REQUEST,
            "persistedQuery needs version 1 and a sha256Hash",
            "BAD_USER_INPUT",
            media,
        ));
    };
    if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(graphql_refusal(
            StatusCode::BAD_REQUEST,
            "sha256Hash must be 64 hex digits",
            "BAD_USER_INPUT",
            media,
        ));
    }
    let key = crate::cache::CacheKey::PersistedQuery(hash.clone());
    if request.query.is_empty() {
        return match app.cache.get_string(&key).await {
            Some(query) => {
                request.query = query;
                Ok(request)
            }
            // A response without data is a 4xx in application/graphql-response+json (Apollo's
            // clients read the errors of a 4xx too); application/json keeps Apollo's 200.
            None => Err(graphql_refusal(
                match media {
                    MediaType::Json => StatusCode::OK,
                    MediaType::GraphqlResponse => StatusCode::BAD_REQUEST,
                },
                "PersistedQueryNotFound",
                "PERSISTED_QUERY_NOT_FOUND",
                media,
            )),
        };
    }
    use sha2::Digest;
    let actual = format!("{:x}", sha2::Sha256::digest(request.query.as_bytes()));
    if actual != hash {
        return Err(graphql_refusal(
            StatusCode::BAD_REQUEST,
            "provided sha256Hash does not match the query",
            "BAD_USER_INPUT",
            media,
        ));
    }
    app.cache
        .set_string(
            &key,
            request.query.clone(),
            std::time::Duration::from_secs(24 * 3600),
        )
        .await;
    Ok(request)
}

async fn execute(
    state: &GraphqlState,
    headers: &HeaderMap,
    media: MediaType,
    stats: Arc<QueryStats>,
    client: Option<Extension<ClientIp>>,
    request: async_graphql::Request,
) -> Response {
    let token = match bearer_token(headers) {
        Ok(t) => t.map(str::to_owned),
        Err(e) => {
            return graphql_refusal(
                StatusCode::UNAUTHORIZED,
                &e.public_message(),
                e.graphql_code(),
                media,
            )
        }
    };
    if request.query.is_empty() && !request.extensions.contains_key("persistedQuery") {
        return graphql_refusal(
            StatusCode::BAD_REQUEST,
            "the request has no query",
            "BAD_USER_INPUT",
            media,
        );
    }
    let ctx = Ctx {
        actor: None,
        stats: stats.clone(),
    };
    let mut request = match persisted_query(&state.app, request, media).await {
        Ok(r) => r,
        Err(response) => return response,
    };
    // Parsed once here (async-graphql reuses the document): aliases are refused, introspection
    // is refused when off, and the operation counted before validation. A syntax error is left
    // to async-graphql to report.
    let config = &state.app.config;
    let operation_name = request.operation_name.clone();
    let parsed = request.parsed_query().map(|doc| {
        context::check_aliases(doc, config.graphql_aliases).and_then(|()| {
            let introspection = context::introspection_use(doc, operation_name.as_deref());
            if introspection.any && !config.graphql_introspection {
                return Err(context::introspection_disabled());
            }
            Ok((
                context::operation_type(doc, operation_name.as_deref()),
                introspection.only,
            ))
        })
    });
    let mut introspection_only = false;
    if let Ok(checked) = parsed {
        match checked {
            Err(e) => return respond(async_graphql::Response::from_errors(vec![e]), media),
            Ok((ty, only)) => {
                if let Some(ty) = ty {
                    crate::metrics::graphql_operation(ty);
                }
                introspection_only = only;
            }
        }
    }
    if let Some(Extension(client)) = client {
        request = request.data(client);
    }
    let schema = match (token.is_some(), introspection_only) {
        (false, false) => &state.anonymous,
        (true, false) => &state.with_token,
        (false, true) => &state.introspection_anonymous,
        (true, true) => &state.introspection_with_token,
    };
    let (spawner, batches) = loaders::local_spawner();
    let request = request
        .data(RequestAuth::new(token, stats))
        .data(Loaders::new(
            &state.app,
            &ctx,
            spawner,
            std::time::Duration::ZERO,
        ));
    let response = loaders::run_with_local_batches(schema.execute(request), batches).await;
    respond(response, media)
}

/// The HTTP response for a GraphQL response in the negotiated media type (see [`negotiate`]):
/// every error has a code, and a rate-limited operation says when to come back (`Retry-After`),
/// as REST does.
fn respond(mut response: async_graphql::Response, media: MediaType) -> Response {
    // Errors raised before execution (syntax, validation, limits) carry no code yet.
    for e in &mut response.errors {
        let ext = e.extensions.get_or_insert_with(Default::default);
        if ext.get("code").is_none() {
            ext.set("code", "BAD_USER_INPUT");
        }
    }
    // A rate-limited operation also says when to come back, as REST does.
    let retry_after = response
        .errors
        .iter()
        .filter_map(|e| e.extensions.as_ref()?.get("retryAfter"))
        .find_map(|v| match v {
            async_graphql::Value::Number(n) => n.as_u64(),
            _ => None,
        });
    let mut res = negotiate::render(response, media);
    if let Some(secs) = retry_after {
        res.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    res
}

async fn graphql_post(
    State(state): State<GraphqlState>,
    Extension(stats): Extension<Arc<QueryStats>>,
    client: Option<Extension<ClientIp>>,
    headers: HeaderMap,
    body: Result<JsonBody, AppError>,
) -> Response {
    let Some(media) = negotiate::negotiate(&headers) else {
        return negotiate::not_acceptable();
    };
    let mut value = match body {
        Ok(JsonBody(v)) => v,
        Err(e) => return e.into_response(),
    };
    let Some(object) = value.as_object_mut() else {
        let message = if value.is_array() {
            "batched requests are not supported"
        } else {
            "a GraphQL request is a JSON object"
        };
        return graphql_refusal(StatusCode::BAD_REQUEST, message, "BAD_USER_INPUT", media);
    };
    // A parameter given as null is as good as absent (GraphQL over HTTP).
    object.retain(|_, v| !v.is_null());
    let request: async_graphql::Request = match serde_json::from_value(value) {
        Ok(r) => r,
        Err(e) => {
            return graphql_refusal(
                StatusCode::BAD_REQUEST,
                &format!("not a GraphQL request: {e}"),
                "BAD_USER_INPUT",
                media,
            )
        }
    };
    execute(&state, &headers, media, stats, client, request).await
}

/// The parameters of `GET /graphql` (GraphQL over HTTP: `query`, `operationName`, and
/// `variables` and `extensions` as JSON text).
#[derive(serde::Deserialize)]
struct GetParams {
    #[serde(default)]
    query: String,
    #[serde(default, rename = "operationName")]
    operation_name: Option<String>,
    #[serde(default)]
    variables: Option<String>,
    #[serde(default)]
    extensions: Option<String>,
}

fn parse_get(query: &str) -> Result<async_graphql::Request, String> {
    let params: GetParams = serde_urlencoded::from_str(query).map_err(|e| e.to_string())?;
    let mut request = async_graphql::Request::new(params.query);
    request.operation_name = params.operation_name.filter(|n| !n.is_empty());
    if let Some(v) = params.variables.filter(|v| !v.is_empty()) {
        let v: serde_json::Value =
            serde_json::from_str(&v).map_err(|e| format!("invalid variables: {e}"))?;
        if !v.is_null() {
            request.variables =
                serde_json::from_value(v).map_err(|e| format!("invalid variables: {e}"))?;
        }
    }
    if let Some(e) = params.extensions.filter(|e| !e.is_empty()) {
        let e: serde_json::Value =
            serde_json::from_str(&e).map_err(|e| format!("invalid extensions: {e}"))?;
        if !e.is_null() {
            request.extensions =
                serde_json::from_value(e).map_err(|e| format!("invalid extensions: {e}"))?;
        }
    }
    Ok(request)
}

/// `GET /graphql?query=...`: queries only (a mutation over GET is refused with 405).
async fn graphql_get(
    State(state): State<GraphqlState>,
    Extension(stats): Extension<Arc<QueryStats>>,
    client: Option<Extension<ClientIp>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let Some(media) = negotiate::negotiate(&headers) else {
        return negotiate::not_acceptable();
    };
    let mut request = match parse_get(query.as_deref().unwrap_or("")) {
        Ok(r) => r,
        Err(e) => {
            return graphql_refusal(
                StatusCode::BAD_REQUEST,
                &format!("bad GraphQL GET request: {e}"),
                "BAD_USER_INPUT",
                media,
            )
        }
    };
    if let Ok(doc) = request.parsed_query() {
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
                media,
            );
            res.headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("POST"));
            return res;
        }
    }
    execute(&state, &headers, media, stats, client, request).await
}

/// graphql-transport-ws (and the legacy graphql-ws) at `/graphql/ws`. The token may come in the
/// `connection_init` payload as `{"Authorization": "Bearer ..."}`; none is needed.
///
/// On server shutdown the socket is closed with code 1001 (going away), and the server waits
/// (bounded) for that before it exits.
async fn graphql_ws(
    State(state): State<GraphqlState>,
    client: Option<Extension<ClientIp>>,
    protocol: GraphQLProtocol,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    let app = state.app.clone();
    let schema = state.socket.clone();
    let client = client.map(|Extension(c)| c);
    let shutdown = app.shutdown.clone();
    // The protocol `GraphQLProtocol` picked (its field is private): the first one offered.
    let transport_ws = headers
        .get(header::SEC_WEBSOCKET_PROTOCOL)
        .and_then(|v| v.to_str().ok())
        .and_then(|offered| {
            offered.split(',').find_map(|p| {
                p.trim()
                    .parse::<async_graphql::http::WebSocketProtocols>()
                    .ok()
            })
        })
        == Some(async_graphql::http::WebSocketProtocols::GraphQLWS);
    let init_timeout = app.config.graphql_ws_init_timeout;
    // Taken before the upgrade, so a shutdown that starts meanwhile still waits for this socket.
    let tracked = shutdown.tracker.token();
    upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |socket| async move {
            let _tracked = tracked;
            let (ws_sink, ws_stream) = futures::StreamExt::split(socket);
            // GraphQL writes into a channel; the pump below forwards to the socket and, on
            // shutdown, sends the close frame itself.
            let (tx, rx) = futures::channel::mpsc::channel::<axum::extract::ws::Message>(16);
            let input = Box::pin(futures::StreamExt::take_until(
                ws_stream,
                shutdown.token.clone().cancelled_owned(),
            ));
            // The graphql-transport-ws rules around async-graphql's handler (see `ws`).
            let protocol_state = ws::new_state(transport_ws);
            let input = ws::checked_input(input, protocol_state.clone(), init_timeout);
            let outgoing_state = protocol_state.clone();
            let tx = futures::SinkExt::with_flat_map(tx, move |msg| {
                futures::stream::iter(ws::outgoing(msg, &outgoing_state).map(Ok))
            });
            let pump = pump_to_socket(rx, ws_sink, shutdown.token.clone(), protocol_state);
            let graphql = GraphQLWebSocket::new_with_pair(tx, input, schema, protocol)
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
                            let token = crate::service::auth::bearer_credentials(&value)
                                .map_err(|_| async_graphql::Error::new("invalid token"))?;
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
                    let spawner: loaders::Spawner = Arc::new(|f| drop(tokio::spawn(f)));
                    data.insert(Loaders::new(
                        &app,
                        &ctx,
                        spawner,
                        std::time::Duration::from_millis(1),
                    ));
                    data.insert(RequestAuth::authenticated(actor, stats));
                    data.insert(SubscriptionCount::default());
                    if let Some(client) = client {
                        data.insert(client);
                    }
                    Ok(data)
                })
                .serve();
            futures::join!(graphql, pump);
        })
}

/// Forwards GraphQL's messages to the socket until GraphQL is done or the server shuts down;
/// then closes the socket (with 1001 "going away" on shutdown, or with the code of the protocol
/// violation that stopped GraphQL).
async fn pump_to_socket(
    mut rx: futures::channel::mpsc::Receiver<axum::extract::ws::Message>,
    mut sink: futures::stream::SplitSink<axum::extract::ws::WebSocket, axum::extract::ws::Message>,
    shutdown: tokio_util::sync::CancellationToken,
    protocol_state: ws::Shared,
) {
    use axum::extract::ws::{CloseFrame, Message};
    use futures::{SinkExt, StreamExt};
    loop {
        tokio::select! {
            // Shutdown first: once it has begun, GraphQL's own end-of-stream close (no code) must
            // not win the race against our 1001.
            biased;
            () = shutdown.cancelled() => {
                let frame = CloseFrame { code: 1001, reason: "server shutting down".into() };
                let _ = tokio::time::timeout(
                    std::time::Duration::from_secs(2),
                    sink.send(Message::Close(Some(frame))),
                )
                .await;
                break;
            }
            msg = rx.next() => match msg {
                Some(msg) => {
                    if sink.send(msg).await.is_err() {
                        return;
                    }
                }
                None => {
                    if let Some(frame) = ws::pending_close(&protocol_state) {
                        let _ = tokio::time::timeout(
                            std::time::Duration::from_secs(2),
                            sink.send(Message::Close(Some(frame))),
                        )
                        .await;
                    }
                    break;
                }
            },
        }
    }
    let _ = tokio::time::timeout(std::time::Duration::from_secs(2), sink.close()).await;
}
