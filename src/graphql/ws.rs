//! The graphql-transport-ws protocol rules async-graphql's WebSocket handler does not enforce
//! (or answers with other close codes), checked around it: on the messages going in before
//! async-graphql reads them, and on the messages coming out before they reach the socket.
//!
//! | close code | when |
//! | --- | --- |
//! | 4400 | a message that is not valid JSON, not a known client message, or of the wrong shape |
//! | 4401 | `subscribe` before the server acknowledged the connection (`connection_ack`) |
//! | 4403 | `connection_init` refused (a bad token in its payload) |
//! | 4408 | no `connection_init` within the init timeout (`BOOKSTORE_GRAPHQL_WS_INIT_TIMEOUT_MS`) |
//! | 4409 | `subscribe` with the id of a subscription still running |
//! | 4429 | a second `connection_init` |
//!
//! `ping` is answered with `pong` (by async-graphql); `complete` from the client stops the
//! subscription without an echo, `complete` from the server ends one. An operation refused before
//! it ran (it does not parse or validate, a limit refuses it) gets the protocol's `error` message
//! (its payload the list of errors) and no `complete`, where async-graphql sends `next` + `complete`.
//!
//! Both sides run in the one task of the connection, in order (async-graphql reads the next
//! message only once it has written the answer to the previous one), so the shared state below
//! is always current when a message is checked.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message};
use futures::{Stream, StreamExt};
use serde_json::Value;

/// What the two sides know about one connection.
#[derive(Default)]
pub struct ProtocolState {
    /// graphql-transport-ws: the rules apply. (The legacy graphql-ws protocol passes unchecked.)
    enforce: bool,
    init_received: bool,
    acked: bool,
    /// Ids of the subscriptions running.
    active: HashSet<String>,
    /// Ids the client completed: async-graphql's echo of their `complete` is dropped.
    completed_by_client: HashSet<String>,
    /// Ids whose operation ended with an `error` message: async-graphql's `complete` is dropped.
    errored: HashSet<String>,
    /// The close frame to send once async-graphql has stopped (a protocol violation).
    close: Option<(u16, String)>,
}

pub type Shared = Arc<Mutex<ProtocolState>>;

/// The state of a new connection; `enforce` for graphql-transport-ws.
pub fn new_state(enforce: bool) -> Shared {
    Arc::new(Mutex::new(ProtocolState {
        enforce,
        ..ProtocolState::default()
    }))
}

fn lock(state: &Shared) -> std::sync::MutexGuard<'_, ProtocolState> {
    state
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The close frame a protocol violation left, if any.
pub fn pending_close(state: &Shared) -> Option<CloseFrame> {
    lock(state).close.take().map(|(code, reason)| CloseFrame {
        code,
        reason: reason.into(),
    })
}

type Violation = (u16, String);

fn invalid(why: &str) -> Violation {
    (4400, format!("Invalid message received: {why}"))
}

fn is_object_or_null(v: Option<&Value>) -> bool {
    matches!(v, None | Some(Value::Null) | Some(Value::Object(_)))
}

fn is_string_or_null(v: Option<&Value>) -> bool {
    matches!(v, None | Some(Value::Null) | Some(Value::String(_)))
}

/// Checks one client message against the protocol and the connection's state.
fn check(text: &[u8], s: &mut ProtocolState) -> Result<(), Violation> {
    let v: Value = serde_json::from_slice(text).map_err(|_| invalid("not JSON"))?;
    let obj = v.as_object().ok_or_else(|| invalid("not an object"))?;
    let ty = obj
        .get("type")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("no type"))?;
    let id = || {
        obj.get("id")
            .and_then(Value::as_str)
            .filter(|id| !id.is_empty())
            .ok_or_else(|| invalid("no id"))
    };
    match ty {
        "connection_init" => {
            if !is_object_or_null(obj.get("payload")) {
                return Err(invalid("the payload of connection_init must be an object"));
            }
            if s.init_received {
                return Err((4429, "Too many initialisation requests".into()));
            }
            s.init_received = true;
        }
        "ping" | "pong" => {
            if !is_object_or_null(obj.get("payload")) {
                return Err(invalid("the payload of ping and pong must be an object"));
            }
        }
        "subscribe" => {
            let id = id()?;
            let payload = obj
                .get("payload")
                .and_then(Value::as_object)
                .ok_or_else(|| invalid("subscribe needs a payload object"))?;
            let well_formed = payload.get("query").is_some_and(Value::is_string)
                && is_object_or_null(payload.get("variables"))
                && is_object_or_null(payload.get("extensions"))
                && is_string_or_null(payload.get("operationName"));
            if !well_formed {
                return Err(invalid("the payload of subscribe is not a GraphQL request"));
            }
            if !s.acked {
                return Err((4401, "Unauthorized".into()));
            }
            if !s.active.insert(id.to_owned()) {
                let mut reason = format!("Subscriber for {id} already exists");
                truncate(&mut reason);
                return Err((4409, reason));
            }
        }
        "complete" => {
            let id = id()?;
            if s.active.remove(id) {
                s.completed_by_client.insert(id.to_owned());
            }
        }
        _ => return Err(invalid("unknown message type")),
    }
    Ok(())
}

/// A close reason fits in a control frame (123 bytes).
fn truncate(reason: &mut String) {
    if reason.len() > 123 {
        let mut end = 120;
        while !reason.is_char_boundary(end) {
            end -= 1;
        }
        reason.truncate(end);
        reason.push_str("...");
    }
}

/// The client's messages, checked: a violation (or no `connection_init` within `init_timeout`)
/// ends the stream, which stops async-graphql, and leaves the close frame in `state`.
pub fn checked_input<S>(
    input: S,
    state: Shared,
    init_timeout: Duration,
) -> impl Stream<Item = Result<Message, axum::Error>> + Send
where
    S: Stream<Item = Result<Message, axum::Error>> + Unpin + Send,
{
    let deadline = tokio::time::Instant::now() + init_timeout;
    futures::stream::unfold((input, state), move |(mut input, state)| async move {
        let enforce = lock(&state).enforce;
        if !enforce {
            let next = input.next().await?;
            return Some((next, (input, state)));
        }
        let next = if lock(&state).init_received {
            input.next().await
        } else {
            match tokio::time::timeout_at(deadline, input.next()).await {
                Ok(next) => next,
                Err(_) => {
                    lock(&state).close = Some((4408, "Connection initialisation timeout".into()));
                    return None;
                }
            }
        };
        let msg = match next? {
            Ok(msg) => msg,
            Err(e) => return Some((Err(e), (input, state))),
        };
        let verdict = match &msg {
            Message::Text(t) => check(t.as_bytes(), &mut lock(&state)),
            Message::Binary(b) => check(b, &mut lock(&state)),
            _ => Ok(()),
        };
        match verdict {
            Ok(()) => Some((Ok(msg), (input, state))),
            Err(close) => {
                lock(&state).close = Some(close);
                None
            }
        }
    })
}

/// A `next` that carries a request error (no data, no error with a path: nothing ran), as the
/// protocol's `error` message: `(id, message)`.
fn request_error(text: &str) -> Option<(String, String)> {
    let v: Value = serde_json::from_str(text).ok()?;
    let id = v.get("id")?.as_str()?.to_owned();
    let payload = v.get("payload")?;
    if !payload.get("data").is_some_and(Value::is_null) {
        return None;
    }
    let errors = payload.get("errors")?.as_array()?;
    if errors.is_empty() || errors.iter().any(|e| e.get("path").is_some()) {
        return None;
    }
    let message = serde_json::json!({"type": "error", "id": id, "payload": errors});
    Some((id, message.to_string()))
}

/// One message from async-graphql on its way to the socket: notes acknowledgements and
/// completions, drops the echo of a client's `complete`, and gives refusals their codes.
pub fn outgoing(msg: Message, state: &Shared) -> Option<Message> {
    if !lock(state).enforce {
        return Some(msg);
    }
    match msg {
        Message::Text(text) => {
            // async-graphql writes `type` first; only these two matter here.
            let t = text.as_str();
            if t.starts_with(r#"{"type":"connection_ack""#) {
                lock(state).acked = true;
            } else if t.starts_with(r#"{"type":"complete""#) {
                if let Some(id) = serde_json::from_str::<Value>(t)
                    .ok()
                    .and_then(|v| v.get("id").and_then(Value::as_str).map(str::to_owned))
                {
                    let mut s = lock(state);
                    s.active.remove(&id);
                    if s.completed_by_client.remove(&id) || s.errored.remove(&id) {
                        return None;
                    }
                }
            } else if t.starts_with(r#"{"type":"next""#)
                && t.contains(r#""payload":{"data":null,"errors":"#)
            {
                if let Some((id, error)) = request_error(t) {
                    lock(state).errored.insert(id);
                    return Some(Message::Text(error.into()));
                }
            }
            Some(Message::Text(text))
        }
        Message::Close(Some(frame)) => {
            let acked = lock(state).acked;
            let (code, mut reason) = match frame.code {
                // async-graphql closes with 1002 when `connection_init` is refused (and for
                // messages it cannot read, which `checked_input` refuses first).
                1002 if !acked => (4403, format!("Forbidden: {}", frame.reason.as_str())),
                1002 => (
                    4400,
                    format!("Invalid message received: {}", frame.reason.as_str()),
                ),
                // ... and with 1011 for a subscribe before the acknowledgement.
                1011 => (4401, "Unauthorized".to_owned()),
                code => (code, frame.reason.as_str().to_owned()),
            };
            truncate(&mut reason);
            Some(Message::Close(Some(CloseFrame {
                code,
                reason: reason.into(),
            })))
        }
        other => Some(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_follow_the_protocol() {
        let mut s = ProtocolState::default();
        let code = |r: Result<(), Violation>| r.err().map(|(c, _)| c);
        assert_eq!(code(check(b"nope", &mut s)), Some(4400));
        assert_eq!(
            code(check(br#"{"type":"next","id":"1"}"#, &mut s)),
            Some(4400)
        );
        assert_eq!(
            code(check(
                br#"{"type":"subscribe","id":"1","payload":{"query":"{a}"}}"#,
                &mut s
            )),
            Some(4401)
        );
        assert_eq!(code(check(br#"{"type":"connection_init"}"#, &mut s)), None);
        assert_eq!(
            code(check(br#"{"type":"connection_init"}"#, &mut s)),
            Some(4429)
        );
        s.acked = true;
        let sub = br#"{"type":"subscribe","id":"1","payload":{"query":"{a}"}}"#;
        assert_eq!(code(check(sub, &mut s)), None);
        assert_eq!(code(check(sub, &mut s)), Some(4409));
        assert_eq!(
            code(check(br#"{"type":"complete","id":"1"}"#, &mut s)),
            None
        );
        assert_eq!(code(check(sub, &mut s)), None);
        assert_eq!(
            code(check(
                br#"{"type":"subscribe","id":"2","payload":{"query":1}}"#,
                &mut s
            )),
            Some(4400)
        );
        assert_eq!(
            code(check(br#"{"type":"ping","payload":{}}"#, &mut s)),
            None
        );
    }
}
