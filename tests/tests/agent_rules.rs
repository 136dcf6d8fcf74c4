//! The shipped Prometheus alert rules (contrib/prometheus) are valid and behave as
//! their unit tests say, by Prometheus' own `promtool`.

use std::path::PathBuf;
use std::process::Command;

fn promtool() -> Option<&'static str> {
    ["/usr/bin/promtool", "/usr/local/bin/promtool"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
}

#[test]
fn shipped_rules_pass_promtool_check_and_their_unit_tests() {
    let Some(promtool) = promtool() else {
        headroom_tests::skip_or_fail("promtool is not installed (apt-get install prometheus)");
        return;
    };
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../contrib/prometheus");
    for args in [
        ["check", "rules", "headroom.rules.yml"],
        ["test", "rules", "headroom.rules.test.yml"],
    ] {
        let out = Command::new(promtool)
            .args(args)
            .current_dir(&dir)
            .output()
            .expect("promtool runs");
        assert!(
            out.status.success(),
            "promtool {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
