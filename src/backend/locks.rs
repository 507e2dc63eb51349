//! Named locks taken in turns, each entry alive only while held or awaited: writes to one
//! key of an engine storing at the key, so a conditional write's check and its effect
//! cannot interleave; and part records against the completion of their upload.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

type Slot = Arc<tokio::sync::Mutex<()>>;

/// Locks by name `N`.
pub struct Locks<N> {
    held: Mutex<HashMap<N, Slot>>,
}

impl<N> Default for Locks<N> {
    fn default() -> Self {
        Self { held: Mutex::new(HashMap::new()) }
    }
}

/// Holds a key's lock; the entry goes away with its last holder or waiter.
pub struct Guard<'a, N: std::hash::Hash + Eq> {
    locks: &'a Locks<N>,
    id: N,
    guard: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl<N: std::hash::Hash + Eq + Clone> Locks<N> {
    /// Waits for `id`'s turn; holds it until the guard drops.
    pub async fn lock(&self, id: N) -> Guard<'_, N> {
        let slot = Arc::clone(self.map().entry(id.clone()).or_default());
        let guard = slot.lock_owned().await;
        Guard { locks: self, id, guard: Some(guard) }
    }

    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<N, Slot>> {
        self.held.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.map().len()
    }
}

impl<N: std::hash::Hash + Eq> Drop for Guard<'_, N> {
    fn drop(&mut self) {
        drop(self.guard.take());
        let mut map = self.locks.held.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
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
        let locks: Arc<Locks<(&str, &str)>> = Arc::new(Locks::default());
        let order = Arc::new(Mutex::new(Vec::new()));
        let first = locks.lock(("b", "k")).await;
        let (l2, o2) = (Arc::clone(&locks), Arc::clone(&order));
        let second = tokio::spawn(async move {
            let _g = l2.lock(("b", "k")).await;
            o2.lock().unwrap().push(2);
        });
        let _other = locks.lock(("b", "other")).await;
        tokio::time::sleep(Duration::from_millis(20)).await;
        order.lock().unwrap().push(1);
        drop(first);
        second.await.unwrap();
        assert_eq!(*order.lock().unwrap(), vec![1, 2]);
        drop(_other);
        assert_eq!(locks.len(), 0);
    }
}
