//! Packs headroom-cli's relative relocations (DT_RELR) where the C library reads them.
//!
//! headroom-cli is position-independent (so its addresses are randomized), and the
//! loader fixes up every pointer in its read-only data at start. As classic RELA entries
//! that table is about 300 KB, read whole at every start and resident for the life of
//! the process (`watch` and the agent stay up for months); packed, it is a few KB.
//! glibc reads packed relocations from 2.36 on, and a binary that has them does not
//! start on an older one, so they are asked for only when building for this machine
//! and its glibc is that new. An older GNU ld ignores the option with a warning.

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let target = std::env::var("TARGET").unwrap_or_default();
    let host = std::env::var("HOST").unwrap_or_default();
    if target == host && target.ends_with("-linux-gnu") && glibc_at_least((2, 36)) {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
}

/// This machine's glibc, from `getconf GNU_LIBC_VERSION` ("glibc 2.36").
fn glibc_at_least(want: (u32, u32)) -> bool {
    let Ok(out) = Command::new("getconf").arg("GNU_LIBC_VERSION").output() else {
        return false;
    };
    let text = String::from_utf8_lossy(&out.stdout);
    let Some(version) = text.trim().strip_prefix("glibc ") else {
        return false;
    };
    let mut parts = version.split('.').map(|p| p.parse::<u32>().ok());
    match (parts.next().flatten(), parts.next().flatten()) {
        (Some(major), Some(minor)) => (major, minor) >= want,
        _ => false,
    }
}
