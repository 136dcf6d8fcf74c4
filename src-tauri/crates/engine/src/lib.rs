//! Headroom's engine: everything but the desktop. Sources read the world into a
//! [`snapshot::Snapshot`], [`assess`] turns it into levels and forecasts, and the
//! [`monitor`] hands each tick to its sinks. No tauri, no UI.
#![forbid(unsafe_code)]

pub mod alerts;
pub mod assess;
pub mod classify;
pub mod config;
pub mod domain;
pub mod explain;
pub mod fleet;
pub mod history;
pub mod host;
pub mod item;
pub mod lock;
pub mod maillog;
pub mod monitor;
pub mod mta;
pub mod probe;
pub mod runtime;
pub mod sanitize;
pub mod settings;
pub mod snapshot;
pub mod tick;
pub mod time;
