//! Cache-aside reads of single entities, shared by both doors (REST serves the cached bytes as
//! they are; GraphQL loaders decode them).

use std::future::Future;

use bytes::{BufMut, Bytes, BytesMut};
use serde::{de::DeserializeOwned, Serialize};

use crate::app::App;
use crate::cache::{CacheKey, Outcome};
use crate::error::{AppError, AppResult};

/// An entity as JSON bytes with its version, and how the cache served it.
#[derive(Debug, Clone)]
pub struct CachedJson {
    pub json: Bytes,
    pub version: i32,
    pub outcome: Outcome,
}

/// Cache entry: the version (4 bytes, big endian) then the JSON.
fn encode_entry<T: Serialize>(version: i32, value: &T) -> AppResult<Bytes> {
    let mut buf = BytesMut::with_capacity(320).writer();
    buf.get_mut().put_i32(version);
    serde_json::to_writer(&mut buf, value).map_err(AppError::internal)?;
    Ok(buf.into_inner().freeze())
}

fn decode_entry(entry: &Bytes) -> Option<(i32, Bytes)> {
    if entry.len() < 5 {
        return None;
    }
    let version = i32::from_be_bytes(entry[..4].try_into().ok()?);
    Some((version, entry.slice(4..)))
}

pub fn decode_json<T: DeserializeOwned>(json: &[u8]) -> AppResult<T> {
    serde_json::from_slice(json).map_err(AppError::internal)
}

impl App {
    /// One entity through the cache: a hit is served from it; concurrent misses of the key share
    /// one `load` (single flight), whose result is stored for the next reader.
    pub(crate) async fn cached_one<T, F, Fut>(
        &self,
        key: CacheKey,
        version_of: fn(&T) -> i32,
        load: F,
    ) -> AppResult<Option<CachedJson>>
    where
        T: Serialize,
        F: FnOnce() -> Fut,
        Fut: Future<Output = AppResult<Option<T>>>,
    {
        let (hit, outcome, snapshot) = self.cache.get(&key).await;
        if let Some((version, json)) = hit.as_ref().and_then(decode_entry) {
            return Ok(Some(CachedJson {
                json,
                version,
                outcome: Outcome::Hit,
            }));
        }
        // The miss path (database, cache fill, single flight) is boxed so that its state does not
        // size the future of every hit.
        Box::pin(async move {
            let load_and_store = || async {
                let Some(value) = load().await? else {
                    return Ok::<_, AppError>(None);
                };
                let entry = encode_entry(version_of(&value), &value)?;
                if outcome == Outcome::Miss {
                    self.cache
                        .fill(vec![(key.clone(), entry.clone())], snapshot)
                        .await;
                }
                Ok(Some(entry))
            };
            let entry = if outcome == Outcome::Bypass {
                load_and_store().await?
            } else {
                self.cache
                    .flights
                    .run(&self.cache.key(&key), load_and_store)
                    .await?
            };
            Ok(entry
                .as_ref()
                .and_then(decode_entry)
                .map(|(version, json)| CachedJson {
                    json,
                    version,
                    outcome,
                }))
        })
        .await
    }

    /// Many entities through the cache: one MGET, then one batch `load` for the misses.
    /// The result keeps no particular order; missing ids are absent.
    pub(crate) async fn cached_many<T, K, F, Fut>(
        &self,
        ids: &[K],
        key_of: fn(&K) -> CacheKey,
        version_of: fn(&T) -> i32,
        id_of: fn(&T) -> K,
        load: F,
    ) -> AppResult<Vec<T>>
    where
        T: Serialize + DeserializeOwned,
        K: Clone + PartialEq,
        F: FnOnce(Vec<K>) -> Fut,
        Fut: Future<Output = AppResult<Vec<T>>>,
    {
        let keys: Vec<CacheKey> = ids.iter().map(key_of).collect();
        let (cached, outcome, snapshot) = self.cache.get_many(&keys).await;
        let mut out = Vec::with_capacity(ids.len());
        let mut missing = Vec::new();
        for (id, entry) in ids.iter().zip(cached) {
            match entry.as_ref().and_then(decode_entry) {
                Some((_, json)) => out.push(decode_json::<T>(&json)?),
                None => missing.push(id.clone()),
            }
        }
        if missing.is_empty() {
            return Ok(out);
        }
        let loaded = load(missing).await?;
        if outcome == Outcome::Miss || outcome == Outcome::Hit {
            let mut fills = Vec::with_capacity(loaded.len());
            for value in &loaded {
                fills.push((
                    key_of(&id_of(value)),
                    encode_entry(version_of(value), value)?,
                ));
            }
            self.cache.fill(fills, snapshot).await;
        }
        out.extend(loaded);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip() {
        let e = encode_entry(7, &serde_json::json!({"a": 1})).unwrap();
        let (v, json) = decode_entry(&e).unwrap();
        assert_eq!(v, 7);
        assert_eq!(&json[..], br#"{"a":1}"#);
        assert!(decode_entry(&Bytes::from_static(b"\0\0")).is_none());
    }
}
