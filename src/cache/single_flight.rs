//! Single flight: concurrent misses of one key in one process share one load.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use tokio::sync::OnceCell;

type Cell<T> = Arc<OnceCell<T>>;

#[derive(Default)]
pub struct SingleFlight {
    inflight: Mutex<HashMap<String, Arc<dyn std::any::Any + Send + Sync>>>,
}

impl SingleFlight {
    /// Runs `load` once for all concurrent callers of `key`; the others wait for its result.
    /// A failed load is not shared: waiting callers then try themselves.
    pub async fn run<T, E, F, Fut>(&self, key: &str, load: F) -> Result<T, E>
    where
        T: Clone + Send + Sync + 'static,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let cell: Cell<T> = {
            let mut map = self.inflight.lock().unwrap_or_else(|p| p.into_inner());
            let entry = map
                .entry(key.to_owned())
                .or_insert_with(|| Arc::new(Cell::<T>::default()));
            match entry.clone().downcast::<OnceCell<T>>() {
                Ok(cell) => cell,
                Err(_) => {
                    let fresh: Cell<T> = Arc::default();
                    *entry = fresh.clone();
                    fresh
                }
            }
        };
        let result = cell.get_or_try_init(load).await.cloned();
        self.release(key, &cell);
        result
    }

    fn release<T: Send + Sync + 'static>(&self, key: &str, cell: &Cell<T>) {
        let mut map = self.inflight.lock().unwrap_or_else(|p| p.into_inner());
        let same = map
            .get(key)
            .and_then(|c| c.clone().downcast::<OnceCell<T>>().ok())
            .is_some_and(|c| Arc::ptr_eq(&c, cell));
        if same {
            map.remove(key);
        }
    }

    /// A write happened: new readers must not join a load that may have read the old row.
    pub fn forget(&self, key: &str) {
        self.inflight
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn concurrent_callers_share_one_load() {
        let flights = Arc::new(SingleFlight::default());
        let loads = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..16 {
            let flights = flights.clone();
            let loads = loads.clone();
            tasks.push(tokio::spawn(async move {
                flights
                    .run("k", || async {
                        loads.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        Ok::<_, ()>(7u32)
                    })
                    .await
            }));
        }
        for t in tasks {
            assert_eq!(t.await.unwrap(), Ok(7));
        }
        assert_eq!(loads.load(Ordering::SeqCst), 1);
    }
}
