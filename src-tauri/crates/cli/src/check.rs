//! `check`: one sample, one assessment, a Nagios exit code.

use std::io::Write;
use std::path::Path;

use headroom_engine::runtime;
use headroom_engine::sanitize::for_terminal;
use headroom_engine::snapshot::{ProblemKind, SourceProblem};
use headroom_engine::tick::Tick;

use crate::output::status_block;

pub async fn run(config: Option<&Path>, json: bool, no_probe: bool) -> u8 {
    let config = match crate::load_config(config) {
        Ok(c) => c,
        Err(code) => return code,
    };
    // The monitor's own reads, once, with the probes running meanwhile.
    let (tick, setup_problems) = runtime::check(&config, no_probe).await;
    let Tick {
        mut snapshot,
        assessment,
        ..
    } = tick;
    snapshot
        .problems
        .extend(setup_problems.into_iter().map(|message| SourceProblem {
            source: "probe".into(),
            message,
            kind: Default::default(),
        }));
    if json {
        let out = crate::state::state_object(&snapshot, &assessment);
        // A reader that went away (`| head`) is not the check's failure: stop writing
        // quietly and keep the exit code.
        let _ = writeln!(std::io::stdout().lock(), "{out}");
    } else {
        let _ = (|| -> std::io::Result<()> {
            let mut out = std::io::stdout().lock();
            let thresholds = headroom_engine::assess::domain_items::with_defaults(
                &config.thresholds,
                &config.tls,
            );
            status_block(&mut out, "HEADROOM", &assessment, &thresholds)?;
            for p in &snapshot.probes {
                writeln!(
                    out,
                    "probe {}: {}",
                    for_terminal(&p.name),
                    for_terminal(&p.latest.summary())
                )?;
            }
            for p in &snapshot.problems {
                let what = match p.kind {
                    ProblemKind::Failed => "could not read",
                    // Not a failure: something this host does not have, with the setting.
                    ProblemKind::Absent => "note:",
                };
                writeln!(out, "{what} {}: {}", p.source, for_terminal(&p.message))?;
            }
            out.flush()
        })();
    }
    assessment.status.exit_code() as u8
}
