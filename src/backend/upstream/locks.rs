//! Per-key write locks: writes to one key go upstream one at a time, so a conditional
//! write's check (against the index) and its effect cannot interleave with another write.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

type Slot = Arc<tokio::sync::Mutex<()>>;

#[derive(Default)]
pub struct KeyLocks {
    held: Mutex<HashMap<(String, String), Slot>>,
}

/// Holds a key's lock; the entry goes away with its last holder or waiter.
pub struct KeyGuard<'a> {
    locks: &'a KeyLocks,
    id: (String, String),
    guard: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl KeyLocks {
    pub async fn lock(&self, bucket: &str, key: &str) -> KeyGuard<'_> {
        let id = (bucket.to_owned(), key.to_owned());
        let slot = Arc::clone(self.map().entry(id.clone()).or_default());
        let guard = slot.lock_owned().await;
        KeyGuard { locks: self, id, guard: Some(guard) }
    }

    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<(String, String), Slot>> {
        self.held.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.map().len()
    }
}

impl Drop for KeyGuard<'_> {
    fn drop(&mut self) {
        drop(self.guard.take());
        let mut map = self.locks.map();
        // Only the map holds it now: nobody waits for this key.
        if map.get(&self.id).is_some_and(|slot| Arc::strong_count(slot) == 1) {
            map.remove(&self.id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn writes_to_one_key_take_turns_and_leave_nothing_behind() {
        let locks = Arc::new(KeyLocks::default());
        let order = Arc::new(Mutex::new(Vec::new()));
        let first = locks.lock("b", "k").await;
        let (l2, o2) = (Arc::clone(&locks), Arc::clone(&order));
        let second = tokio::spawn(async move {
            let _g = l2.lock("b", "k").await;
            o2.lock().unwrap().push(2);
        });
        let _other = locks.lock("b", "other").await;
        tokio::time::sleep(Duration::from_millis(20)).await;
        order.lock().unwrap().push(1);
        drop(first);
        second.await.unwrap();
        assert_eq!(*order.lock().unwrap(), vec![1, 2]);
        drop(_other);
        assert_eq!(locks.len(), 0);
    }
}
