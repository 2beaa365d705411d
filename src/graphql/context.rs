//! Per-request GraphQL context: the caller (authenticated after validation, so a query refused
//! by the limits runs no SQL at all), the request's statistics, and error mapping.

use std::sync::{Arc, Mutex};

use async_graphql::{
    extensions::{
        Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery,
        NextPrepareRequest,
    },
    parser::types::{ExecutableDocument, OperationType, Selection, SelectionSet},
    Context, ErrorExtensions, Guard, Response, ServerError, ServerResult, Variables,
};
use tokio::sync::OnceCell;

use crate::app::{Actor, AppState, Ctx};
use crate::db::QueryStats;
use crate::domain::Role;
use crate::error::{AppError, AppResult};

/// The caller of one GraphQL request (or of one WebSocket connection).
pub struct RequestAuth {
    token: Option<String>,
    stats: Arc<QueryStats>,
    actor: OnceCell<Option<Actor>>,
}

impl RequestAuth {
    pub fn new(token: Option<String>, stats: Arc<QueryStats>) -> RequestAuth {
        RequestAuth {
            token,
            stats,
            actor: OnceCell::new(),
        }
    }

    /// Already authenticated (WebSocket `connection_init`).
    pub fn authenticated(actor: Option<Actor>, stats: Arc<QueryStats>) -> RequestAuth {
        RequestAuth {
            token: None,
            stats,
            actor: OnceCell::new_with(Some(actor)),
        }
    }

    pub fn ctx(&self) -> Ctx {
        Ctx {
            actor: self.actor.get().cloned().flatten(),
            stats: self.stats.clone(),
        }
    }

    async fn authenticate(&self, app: &AppState) -> AppResult<()> {
        self.actor
            .get_or_try_init(|| async {
                match &self.token {
                    None => Ok(None),
                    Some(token) => {
                        let ctx = Ctx {
                            actor: None,
                            stats: self.stats.clone(),
                        };
                        app.authenticate(token, &ctx).await.map(Some)
                    }
                }
            })
            .await
            .map(|_| ())
    }
}

/// The service context of the request a resolver runs in.
pub fn request_ctx(ctx: &Context<'_>) -> Ctx {
    ctx.data_opt::<RequestAuth>()
        .map(RequestAuth::ctx)
        .unwrap_or_default()
}

pub fn app<'a>(ctx: &Context<'a>) -> &'a AppState {
    ctx.data_unchecked::<AppState>()
}

/// `AppError` as a GraphQL error: `extensions.code`, and `extensions.fields` (camelCase) for
/// validation problems. The mapping of codes is `AppError::graphql_code`, shared with REST.
pub fn gql_error(e: AppError) -> async_graphql::Error {
    e.log();
    let code = e.graphql_code();
    let message = e.public_message();
    let fields: Option<Vec<(String, String)>> = match &e {
        AppError::Validation(errors) => Some(
            errors
                .iter()
                .map(|f| (camel(&f.field), f.message.clone()))
                .collect(),
        ),
        AppError::BadRequest {
            param: Some(p),
            message,
        } => Some(vec![(camel(p), message.clone())]),
        _ => None,
    };
    async_graphql::Error::new(message).extend_with(|_, ext| {
        ext.set("code", code);
        if let Some(fields) = &fields {
            let list: Vec<async_graphql::Value> = fields
                .iter()
                .map(|(f, m)| {
                    let mut obj = async_graphql::indexmap::IndexMap::new();
                    obj.insert(
                        async_graphql::Name::new("field"),
                        async_graphql::Value::from(f.as_str()),
                    );
                    obj.insert(
                        async_graphql::Name::new("message"),
                        async_graphql::Value::from(m.as_str()),
                    );
                    async_graphql::Value::Object(obj)
                })
                .collect();
            ext.set("fields", async_graphql::Value::List(list));
        }
        if let AppError::VersionMismatch { current } = &e {
            ext.set("currentVersion", *current);
        }
        if let AppError::RateLimited { retry_after_secs } = &e {
            ext.set("retryAfter", *retry_after_secs);
        }
        if let AppError::OutcomeUnknown = &e {
            ext.set("outcome", "unknown");
        }
        if let AppError::Unavailable | AppError::OutcomeUnknown = &e {
            // As REST's `Retry-After`: the database is unreachable or saturated for now.
            ext.set("retryAfter", 1);
        }
    })
}

/// snake_case -> camelCase for field names in GraphQL errors.
pub fn camel(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut upper = false;
    for c in s.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

pub trait GqlResult<T> {
    fn gql(self) -> async_graphql::Result<T>;
}

impl<T> GqlResult<T> for AppResult<T> {
    fn gql(self) -> async_graphql::Result<T> {
        self.map_err(gql_error)
    }
}

/// Refuses the field unless the caller has one of the roles (UNAUTHENTICATED / FORBIDDEN).
pub struct RoleGuard(pub &'static [Role]);

impl Guard for RoleGuard {
    async fn check(&self, ctx: &Context<'_>) -> async_graphql::Result<()> {
        let c = request_ctx(ctx);
        crate::service::require_role(&c, self.0).map(|_| ()).gql()
    }
}

fn server_error(message: &str, code: &'static str) -> ServerError {
    let mut e = ServerError::new(message, None);
    let mut ext = async_graphql::ErrorExtensionValues::default();
    ext.set("code", code);
    e.extensions = Some(ext);
    e
}

/// Refuses a document with more than `max_aliases` aliases (counted through fragment spreads)
/// or one too large to count; run on the parsed document before validation and execution.
pub fn check_aliases(doc: &ExecutableDocument, max_aliases: usize) -> Result<(), ServerError> {
    let mut walk = AliasWalk {
        count: 0,
        visits: 0,
        limit: max_aliases,
    };
    for (_, op) in doc.operations.iter() {
        count_aliases(&op.node.selection_set.node, doc, 0, &mut walk);
    }
    if walk.visits > 100_000 {
        return Err(server_error("the query is too large", "BAD_USER_INPUT"));
    }
    let aliases = walk.count;
    if aliases > max_aliases {
        return Err(server_error(
            &format!("the query uses {aliases} aliases; at most {max_aliases} are allowed"),
            "BAD_USER_INPUT",
        ));
    }
    Ok(())
}

/// The type of the operation `operation_name` selects in `doc` (the only one when unnamed).
pub fn operation_type(
    doc: &ExecutableDocument,
    operation_name: Option<&str>,
) -> Option<OperationType> {
    doc.operations
        .iter()
        .find(|(n, _)| match (operation_name, n) {
            (Some(wanted), Some(n)) => n.as_str() == wanted,
            (None, _) => true,
            (Some(_), None) => false,
        })
        .map(|(_, op)| op.node.ty)
}

/// Counts aliases through fragment spreads, stopping as soon as the count passes `limit` or the
/// walk gets too long (a "fragment bomb" must not cost more than a refusal).
fn count_aliases(set: &SelectionSet, doc: &ExecutableDocument, depth: usize, walk: &mut AliasWalk) {
    if depth > 64 || walk.count > walk.limit || walk.visits > 100_000 {
        return;
    }
    for sel in &set.items {
        walk.visits += 1;
        match &sel.node {
            Selection::Field(f) => {
                walk.count += usize::from(f.node.alias.is_some());
                count_aliases(&f.node.selection_set.node, doc, depth + 1, walk);
            }
            Selection::InlineFragment(fr) => {
                count_aliases(&fr.node.selection_set.node, doc, depth + 1, walk)
            }
            Selection::FragmentSpread(spread) => {
                if let Some(fragment) = doc.fragments.get(&spread.node.fragment_name.node) {
                    count_aliases(&fragment.node.selection_set.node, doc, depth + 1, walk);
                }
            }
        }
    }
}

struct AliasWalk {
    count: usize,
    visits: usize,
    limit: usize,
}

/// Authenticates the caller after validation, right before execution, so a query refused by
/// the limits or by validation runs no SQL even when it carries a token.
///
/// Only the schema for requests that carry a token has it: any registered extension makes
/// async-graphql pass every resolved field through the extension chain, a cost anonymous reads
/// need not pay (aliases and the operation metric are checked by the HTTP handler instead).
pub struct AuthenticateAfterValidation;

impl ExtensionFactory for AuthenticateAfterValidation {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(AuthenticateExtension)
    }
}

struct AuthenticateExtension;

#[async_trait::async_trait]
impl Extension for AuthenticateExtension {
    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        if let (Some(auth), Some(app)) = (ctx.data_opt::<RequestAuth>(), ctx.data_opt::<AppState>())
        {
            if let Err(e) = auth.authenticate(app).await {
                e.log();
                return Response::from_errors(vec![server_error(
                    &e.public_message(),
                    e.graphql_code(),
                )]);
            }
        }
        next.run(ctx, operation_name).await
    }
}

/// Documents that arrive inside a WebSocket never pass the HTTP handler: this extension counts
/// their aliases and their operation type (the metric) once parsed.
pub struct SocketGuards {
    pub max_aliases: usize,
    /// Whether introspection is allowed (else `__schema`/`__type` are refused with
    /// `INTROSPECTION_DISABLED`).
    pub introspection: bool,
}

impl ExtensionFactory for SocketGuards {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(SocketGuardsExtension {
            max_aliases: self.max_aliases,
            introspection: self.introspection,
            operation_name: Mutex::new(None),
        })
    }
}

struct SocketGuardsExtension {
    max_aliases: usize,
    introspection: bool,
    operation_name: Mutex<Option<String>>,
}

#[async_trait::async_trait]
impl Extension for SocketGuardsExtension {
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        request: async_graphql::Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<async_graphql::Request> {
        *self.operation_name.lock().expect("not poisoned") = request.operation_name.clone();
        next.run(ctx, request).await
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let doc = next.run(ctx, query, variables).await?;
        check_aliases(&doc, self.max_aliases)?;
        let name = self.operation_name.lock().expect("not poisoned").clone();
        if !self.introspection && introspection_use(&doc, name.as_deref()).any {
            return Err(introspection_disabled());
        }
        if let Some(ty) = operation_type(&doc, name.as_deref()) {
            crate::metrics::graphql_operation(ty);
        }
        Ok(doc)
    }
}

/// How the operation that will run uses introspection (`__schema`, `__type`; `__typename` is
/// always allowed and is no introspection here).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IntrospectionUse {
    /// Some root field is `__schema` or `__type`.
    pub any: bool,
    /// Every root field is `__schema`, `__type` or `__typename`, and one of the first two is
    /// there: the operation is measured against the introspection limits.
    pub only: bool,
}

/// The introspection use of the operation `operation_name` selects (root fields only: the
/// introspection fields exist only on the query root), through fragments.
pub fn introspection_use(
    doc: &ExecutableDocument,
    operation_name: Option<&str>,
) -> IntrospectionUse {
    let op = doc
        .operations
        .iter()
        .find(|(n, _)| match (operation_name, n) {
            (Some(wanted), Some(n)) => n.as_str() == wanted,
            (None, _) => true,
            (Some(_), None) => false,
        })
        .map(|(_, op)| op);
    let Some(op) = op else {
        return IntrospectionUse::default();
    };
    if op.node.ty != OperationType::Query {
        return IntrospectionUse::default();
    }
    let mut walk = IntrospectionWalk {
        introspection: false,
        other: false,
        visits: 0,
    };
    walk.set(&op.node.selection_set.node, doc, 0);
    IntrospectionUse {
        any: walk.introspection,
        only: walk.introspection && !walk.other,
    }
}

struct IntrospectionWalk {
    introspection: bool,
    other: bool,
    visits: usize,
}

impl IntrospectionWalk {
    fn set(&mut self, set: &SelectionSet, doc: &ExecutableDocument, depth: usize) {
        // A fragment cycle or bomb is left to validation; counted as "other" so it gets the
        // ordinary limits.
        if depth > 16 || self.visits > 10_000 {
            self.other = true;
            return;
        }
        for sel in &set.items {
            self.visits += 1;
            match &sel.node {
                Selection::Field(f) => match f.node.name.node.as_str() {
                    "__schema" | "__type" => self.introspection = true,
                    "__typename" => {}
                    _ => self.other = true,
                },
                Selection::InlineFragment(fr) => {
                    self.set(&fr.node.selection_set.node, doc, depth + 1)
                }
                Selection::FragmentSpread(spread) => {
                    match doc.fragments.get(&spread.node.fragment_name.node) {
                        Some(fragment) => {
                            self.set(&fragment.node.selection_set.node, doc, depth + 1)
                        }
                        None => self.other = true,
                    }
                }
            }
        }
    }
}

/// The error for introspection while it is switched off (production, or
/// `BOOKSTORE_GRAPHQL_INTROSPECTION=off`): a request error, before any execution.
pub fn introspection_disabled() -> ServerError {
    server_error(
        "GraphQL introspection is disabled on this server",
        "INTROSPECTION_DISABLED",
    )
}
