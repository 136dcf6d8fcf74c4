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

/// Checks the series names of a history request.
pub fn check_names(names: &[String]) -> Result<(), String> {
    if names.len() > MAX_NAMES {
        return Err(format!(
            "too many series asked for: {} (at most {MAX_NAMES}; an empty list means all)",
            names.len()
        ));
    }
    if let Some(long) = names.iter().find(|n| n.len() > MAX_NAME_BYTES) {
        let start: String = long.chars().take(32).collect();
        return Err(format!(
            "series name of {} bytes is too long (at most {MAX_NAME_BYTES}): {start:?}…",
            long.len()
        ));
    }
    Ok(())
}

/// Checks the number of probe targets in settings to be saved.
pub fn check_probe_targets(n: usize) -> Result<(), String> {
    if n > MAX_PROBE_TARGETS {
        return Err(format!(
            "{n} probe targets are more than Headroom runs (at most {MAX_PROBE_TARGETS})"
        ));
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
        let e = check_names(&names(MAX_NAMES + 1, 8)).expect_err("too many");
        assert!(e.contains("65") && e.contains("at most 64"), "{e}");
        let e = check_names(&names(1, MAX_NAME_BYTES + 1)).expect_err("too long");
        assert!(e.contains("257 bytes") && e.contains("at most 256"), "{e}");
        assert!(e.len() < 200, "the message does not repeat the name: {e}");
    }

    #[test]
    fn probe_targets_are_bounded() {
        assert!(check_probe_targets(0).is_ok());
        assert!(check_probe_targets(MAX_PROBE_TARGETS).is_ok());
        let e = check_probe_targets(10_000).expect_err("too many");
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
