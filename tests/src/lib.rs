//! Helpers for Headroom's system tests: real servers, real desktops, real binaries.
//!
//! Every helper starts its own private instance (display, session bus, mail server)
//! and stops it on drop, so tests can run in parallel and leave nothing behind.

pub mod agent;
pub mod bins;
pub mod debs;
pub mod desktop;
pub mod dns;
pub mod exim;
pub mod load;
pub mod opensmtpd;
pub mod peers;
pub mod postfix;
pub mod postgrey;
pub mod procs;
pub mod sendmail;
pub mod skip;
pub mod sshd;
pub mod tray;
pub mod webdriver;
pub mod webhook;

pub use skip::skip_or_fail;
