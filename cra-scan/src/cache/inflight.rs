//! One walk per layer at a time in this process: scans that miss the same entry at once queue
//! on a per-key lock, and all but the first then find the entry the first one wrote.
//!
//! A claim is an owned async mutex guard, released when the walk ends, fails or is cancelled
//! (its future dropped), so a waiter never hangs on a walk that will not finish and never
//! inherits its failure: it looks the entry up again and walks the layer itself when it is
//! still missing.
//! The map holds weak references, so a key nobody claims any more costs nothing; dead keys
//! are swept whenever a claim is made.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, Weak};

/// The keys being computed in this process.
#[derive(Debug, Default)]
pub(super) struct InFlight {
    keys: Mutex<HashMap<String, Weak<tokio::sync::Mutex<()>>>>,
}

/// The right to compute one entry; hold it from the lookup until the entry is written.
#[derive(Debug)]
pub struct Claim {
    _guard: tokio::sync::OwnedMutexGuard<()>,
}

impl InFlight {
    /// Waits until no other holder in this process computes `key`, then claims it.
    pub(super) async fn claim(&self, key: &str) -> Claim {
        let lock = {
            let mut keys = self.keys.lock().unwrap_or_else(PoisonError::into_inner);
            keys.retain(|_, lock| lock.strong_count() > 0);
            match keys.get(key).and_then(Weak::upgrade) {
                Some(lock) => lock,
                None => {
                    let lock = Arc::new(tokio::sync::Mutex::new(()));
                    keys.insert(key.to_owned(), Arc::downgrade(&lock));
                    lock
                }
            }
        };
        Claim {
            _guard: lock.lock_owned().await,
        }
    }

    /// How many keys are claimed or waited for now.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        let keys = self.keys.lock().unwrap_or_else(PoisonError::into_inner);
        keys.values().filter(|lock| lock.strong_count() > 0).count()
    }
}
