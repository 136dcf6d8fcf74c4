//! Bounds on what the window may ask of the shell. The window is ours, but its
//! arguments cross a process boundary and each command's work grows with them: a
//! buggy or compromised webview must not make the history read a million series, the
//! configuration grow a thousand probe targets, or the shell keep every channel it was
//! ever handed. Over a bound the command fails with a message that says the bound;
//! subscribers are the exception (a reloaded window subscribes again), where the oldest
//! is dropped.

/// Series names per `get_history` / `export_csv` call (the window asks for all with
/// an empty list).
pub const MAX_NAMES: usize = 64;
/// Bytes per series name (`fs_used_percent:<mount point>` can be long; not that long).
pub const MAX_NAME_BYTES: usize = 256;
/// Probe targets in saved settings; each one is a connection every interval.
pub const MAX_PROBE_TARGETS: usize = 32;
/// Live channels kept; a new one beyond this replaces the oldest.
pub const MAX_SUBSCRIBERS: usize = 8;

/// A window request beyond what Headroom serves.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OutOfBounds {
    #[error("too many series asked for: {0} (at most {MAX_NAMES}; an empty list means all)")]
    TooManyNames(usize),
    #[error("series name of {len} bytes is too long (at most {MAX_NAME_BYTES}): {start:?}…")]
    NameTooLong { len: usize, start: String },
    #[error("{0} probe targets are more than Headroom runs (at most {MAX_PROBE_TARGETS})")]
    TooManyTargets(usize),
}

/// Checks the series names of a history request.
pub fn check_names(names: &[String]) -> Result<(), OutOfBounds> {
    if names.len() > MAX_NAMES {
        return Err(OutOfBounds::TooManyNames(names.len()));
    }
    if let Some(long) = names.iter().find(|n| n.len() > MAX_NAME_BYTES) {
        return Err(OutOfBounds::NameTooLong {
            len: long.len(),
            start: long.chars().take(32).collect(),
        });
    }
    Ok(())
}

/// Checks the number of probe targets in settings to be saved.
pub fn check_probe_targets(n: usize) -> Result<(), OutOfBounds> {
    if n > MAX_PROBE_TARGETS {
        return Err(OutOfBounds::TooManyTargets(n));
    }
    Ok(())
}

/// Adds `item` to `list`, dropping the oldest entries beyond `max`; returns how many
/// were dropped.
pub fn push_bounded<T>(list: &mut Vec<T>, item: T, max: usize) -> usize {
    list.push(item);
    let excess = list.len().saturating_sub(max.max(1));
    list.drain(..excess);
    excess
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(n: usize, len: usize) -> Vec<String> {
        (0..n).map(|i| format!("{i:0len$}")).collect()
    }

    #[test]
    fn names_are_bounded_in_number_and_length() {
        assert!(check_names(&[]).is_ok());
        assert!(check_names(&names(MAX_NAMES, MAX_NAME_BYTES)).is_ok());
        let e = check_names(&names(MAX_NAMES + 1, 8))
            .expect_err("too many")
            .to_string();
        assert!(e.contains("65") && e.contains("at most 64"), "{e}");
        let e = check_names(&names(1, MAX_NAME_BYTES + 1))
            .expect_err("too long")
            .to_string();
        assert!(e.contains("257 bytes") && e.contains("at most 256"), "{e}");
        assert!(e.len() < 200, "the message does not repeat the name: {e}");
    }

    #[test]
    fn probe_targets_are_bounded() {
        assert!(check_probe_targets(0).is_ok());
        assert!(check_probe_targets(MAX_PROBE_TARGETS).is_ok());
        let e = check_probe_targets(10_000)
            .expect_err("too many")
            .to_string();
        assert!(e.contains("10000") && e.contains("at most 32"), "{e}");
    }

    #[test]
    fn subscribers_beyond_the_bound_drop_the_oldest() {
        let mut subs = Vec::new();
        let mut dropped = 0;
        for i in 0..100 {
            dropped += push_bounded(&mut subs, i, MAX_SUBSCRIBERS);
        }
        assert_eq!(subs, (92..100).collect::<Vec<_>>());
        assert_eq!(dropped, 92);
    }
}
