//! The one way the engine takes a `Mutex`: a panic elsewhere while holding it (a bug)
//! must not take every later reader down with a poisoned lock, so the data is used as
//! it was left. A leaf module.

use std::sync::{Mutex, MutexGuard};

pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
