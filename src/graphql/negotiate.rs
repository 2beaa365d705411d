//! GraphQL over HTTP (the GraphQL-over-HTTP spec): the response media type chosen by `Accept`,
//! and the status and body of a GraphQL response in that media type.
//!
//! - `application/graphql-response+json` and `application/json` are served; `*/*`,
//!   `application/*` and a missing `Accept` mean `application/json`. q-values are respected (the
//!   most specific range decides a type's q: `application/json;q=0, */*` gets
//!   `application/graphql-response+json`), a tie goes to the range listed first; when neither
//!   type is acceptable the answer is a 406 problem.
//! - A *request error* (the document does not parse or validate, a variable fails coercion, a
//!   limit refuses the operation: nothing was executed) has no `data` key in either media type.
//!   With `application/graphql-response+json` it is a 400; with `application/json` a 200, as the
//!   spec asks for that legacy type.

use axum::{
    body::Body,
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};
use serde::Serialize;

pub const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json";
pub const APPLICATION_JSON: &str = "application/json";

/// The media type of a GraphQL response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MediaType {
    /// `application/json` (the spec's legacy type; `*/*` and no `Accept` mean this one).
    Json,
    /// `application/graphql-response+json`.
    GraphqlResponse,
}

impl MediaType {
    pub fn content_type(self) -> HeaderValue {
        match self {
            MediaType::Json => HeaderValue::from_static(APPLICATION_JSON),
            MediaType::GraphqlResponse => HeaderValue::from_static(GRAPHQL_RESPONSE_JSON),
        }
    }
}

/// The best match for one of our types so far: (q in thousandths, specificity, position).
#[derive(Clone, Copy)]
struct Match {
    q: u16,
    specificity: u8,
    position: usize,
}

fn consider(best: &mut Option<Match>, candidate: Match) {
    // RFC 9110 12.5.1: the most specific range that matches decides the q-value.
    match best {
        Some(b) if b.specificity >= candidate.specificity => {}
        _ => *best = Some(candidate),
    }
}

/// A q-value in thousandths (`q=0.5` -> 500); a malformed one counts as 1.
fn parse_q(v: &str) -> u16 {
    match v.trim().parse::<f32>() {
        Ok(q) if (0.0..=1.0).contains(&q) => (q * 1000.0).round() as u16,
        _ => 1000,
    }
}

/// The response media type the request's `Accept` asks for, or `None` when it accepts neither.
pub fn negotiate(headers: &HeaderMap) -> Option<MediaType> {
    let mut json: Option<Match> = None;
    let mut gql: Option<Match> = None;
    let mut position = 0;
    for value in headers.get_all(header::ACCEPT) {
        let Ok(value) = value.to_str() else { continue };
        for range in value.split(',') {
            let mut parts = range.split(';');
            let media = parts.next().unwrap_or("").trim();
            if media.is_empty() {
                continue;
            }
            position += 1;
            let q = parts
                .filter_map(|p| p.split_once('='))
                .find(|(k, _)| k.trim().eq_ignore_ascii_case("q"))
                .map_or(1000, |(_, v)| parse_q(v));
            let m = |specificity| Match {
                q,
                specificity,
                position,
            };
            if media.eq_ignore_ascii_case(GRAPHQL_RESPONSE_JSON) {
                consider(&mut gql, m(3));
            } else if media.eq_ignore_ascii_case(APPLICATION_JSON) {
                consider(&mut json, m(3));
            } else if media.eq_ignore_ascii_case("application/*") {
                consider(&mut json, m(2));
                consider(&mut gql, m(2));
            } else if media == "*/*" {
                consider(&mut json, m(1));
                consider(&mut gql, m(1));
            }
        }
    }
    if position == 0 {
        return Some(MediaType::Json);
    }
    let json = json.filter(|m| m.q > 0);
    let gql = gql.filter(|m| m.q > 0);
    match (json, gql) {
        (None, None) => None,
        (Some(_), None) => Some(MediaType::Json),
        (None, Some(_)) => Some(MediaType::GraphqlResponse),
        // A wildcard matches both; on a tie the range listed first wins, and a range that matches
        // both (a wildcard) means application/json.
        (Some(j), Some(g)) => {
            if g.q > j.q || (g.q == j.q && g.position < j.position) {
                Some(MediaType::GraphqlResponse)
            } else {
                Some(MediaType::Json)
            }
        }
    }
}

/// 406 when the request accepts neither of our media types.
pub fn not_acceptable() -> Response {
    crate::http::problem::Problem::new(
        StatusCode::NOT_ACCEPTABLE,
        format!(
            "GraphQL responses are {GRAPHQL_RESPONSE_JSON} or {APPLICATION_JSON}; the Accept header allows neither"
        ),
    )
    .into_response()
}

/// Whether nothing was executed: no data, and every error is a request error (no `path`).
/// A field error always has a path, so a `data: null` caused by one is not a request error.
pub fn is_request_error(response: &async_graphql::Response) -> bool {
    matches!(response.data, async_graphql::Value::Null)
        && !response.errors.is_empty()
        && response.errors.iter().all(|e| e.path.is_empty())
}

/// The body of a request error: no `data` key at all.
#[derive(Serialize)]
struct RequestErrors<'a> {
    errors: &'a [async_graphql::ServerError],
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    extensions: &'a std::collections::BTreeMap<String, async_graphql::Value>,
}

/// A GraphQL response in the negotiated media type, with the spec's status.
pub fn render(response: async_graphql::Response, media: MediaType) -> Response {
    let request_error = is_request_error(&response);
    let (status, body) = if request_error {
        let status = match media {
            MediaType::GraphqlResponse => StatusCode::BAD_REQUEST,
            MediaType::Json => StatusCode::OK,
        };
        let body = RequestErrors {
            errors: &response.errors,
            extensions: &response.extensions,
        };
        (status, serde_json::to_vec(&body))
    } else {
        (StatusCode::OK, serde_json::to_vec(&response))
    };
    let body = body.unwrap_or_else(|_| {
        br#"{"errors":[{"message":"internal error","extensions":{"code":"INTERNAL"}}]}"#.to_vec()
    });
    let mut res = Response::new(Body::from(body));
    *res.status_mut() = status;
    let headers = res.headers_mut();
    headers.insert(header::CONTENT_TYPE, media.content_type());
    if response.is_ok() {
        if let Some(value) = response
            .cache_control
            .value()
            .and_then(|v| HeaderValue::from_str(&v).ok())
        {
            headers.insert(header::CACHE_CONTROL, value);
        }
    }
    headers.extend(response.http_headers);
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(values: &[&str]) -> Option<MediaType> {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(header::ACCEPT, HeaderValue::from_str(v).unwrap());
        }
        negotiate(&h)
    }

    #[test]
    fn accept_picks_the_media_type() {
        use MediaType::{GraphqlResponse as G, Json as J};
        assert_eq!(accept(&[]), Some(J));
        assert_eq!(accept(&["*/*"]), Some(J));
        assert_eq!(accept(&["application/*"]), Some(J));
        assert_eq!(accept(&["application/json"]), Some(J));
        assert_eq!(accept(&["application/json; charset=utf-8"]), Some(J));
        assert_eq!(accept(&[GRAPHQL_RESPONSE_JSON]), Some(G));
        assert_eq!(accept(&["Application/GraphQL-Response+JSON"]), Some(G));
        assert_eq!(
            accept(&["application/graphql-response+json, application/json"]),
            Some(G)
        );
        assert_eq!(
            accept(&["application/json, application/graphql-response+json"]),
            Some(J)
        );
        assert_eq!(
            accept(&["application/json;q=0.9, application/graphql-response+json"]),
            Some(G)
        );
        assert_eq!(
            accept(&["application/graphql-response+json;q=0.5, */*"]),
            Some(J)
        );
        assert_eq!(accept(&["application/json;q=0, */*"]), Some(G));
        assert_eq!(accept(&["*/*, application/graphql-response+json"]), Some(J));
        assert_eq!(
            accept(&["application/json;q=0, application/graphql-response+json;q=0, */*"]),
            None
        );
        assert_eq!(
            accept(&["application/json;q=0", "application/graphql-response+json"]),
            Some(G)
        );
        assert_eq!(accept(&["text/html"]), None);
        assert_eq!(accept(&["application/xml, text/*"]), None);
        assert_eq!(
            accept(&["text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"]),
            Some(J)
        );
    }
}
