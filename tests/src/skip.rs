//! The one way a system test gives up because this machine lacks what it needs (a real
//! server, root, a tmpfs mount, an IPv6 loopback). On a developer's machine it says
//! why and the test returns; under `make test`, which sets `HEADROOM_REQUIRE_ALL=1`,
//! it fails, so a missing server can never pass as a green test.

/// Set to `1` to turn every skip into a failure.
pub const REQUIRE_ALL: &str = "HEADROOM_REQUIRE_ALL";

/// Call just before returning early from a test that cannot run here: prints
/// `skipped: WHY`, or panics with the reason when `HEADROOM_REQUIRE_ALL=1`.
#[track_caller] // the panic names the test's line, not this one
pub fn skip_or_fail(why: impl std::fmt::Display) {
    let required = std::env::var(REQUIRE_ALL).ok();
    if let Err(e) = verdict(required.as_deref(), &why.to_string()) {
        panic!("{e}");
    }
}

/// `Err` with the failure message when skips are forbidden (`required` is the value of
/// [`REQUIRE_ALL`]); otherwise prints the skip and returns `Ok`.
fn verdict(required: Option<&str>, why: &str) -> Result<(), String> {
    if required.map(str::trim) == Some("1") {
        return Err(format!(
            "real server unavailable under {REQUIRE_ALL}=1: {why}"
        ));
    }
    eprintln!("skipped: {why}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::verdict;

    #[test]
    fn a_skip_fails_when_every_test_is_required() {
        let e = verdict(Some("1"), "Postfix is not installed").expect_err("must fail");
        assert!(
            e.starts_with(
                "real server unavailable under HEADROOM_REQUIRE_ALL=1: Postfix is not installed"
            ),
            "{e}"
        );
    }

    #[test]
    fn a_skip_is_a_skip_otherwise() {
        for v in [None, Some(""), Some("0")] {
            assert_eq!(verdict(v, "no root"), Ok(()), "{v:?}");
        }
    }
}
