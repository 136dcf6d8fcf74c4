//! `probe`: one SMTP probe with per-phase timings; exit 0 when the dialogue ended
//! well, 1 on a 4xx reply, 2 on a 5xx reply or no usable answer, 3 on bad usage.
//!
//! The reply is the remote server's text: the human output passes it through
//! [`headroom_engine::sanitize`] (no escape sequences, no `|` before the perfdata);
//! the JSON output escapes control characters by itself.

use std::io::{self, Write};
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};
use headroom_engine::classify::{Class, Side};
use headroom_engine::config::TlsMode;
use headroom_engine::explain::{explain_class, explain_reply, Limits};
use headroom_engine::probe::{ProbeResult, ProbeSpec};
use headroom_engine::sanitize::{for_perfdata, for_terminal};

use crate::EXIT_UNKNOWN;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum TlsArg {
    None,
    Starttls,
    Implicit,
}

#[derive(Debug, Args)]
pub struct ProbeArgs {
    /// Host name, IPv4 or IPv6 address (`::1` or `[::1]`).
    pub host: String,
    /// Port; 25 by default, 465 with --tls implicit.
    #[arg(long)]
    pub port: Option<u16>,
    #[arg(long, value_enum, default_value = "none")]
    pub tls: TlsArg,
    /// Name to send with EHLO (default: this machine's host name).
    #[arg(long)]
    pub helo: Option<String>,
    /// Envelope sender (default: the null sender <>).
    #[arg(long, value_name = "ADDR")]
    pub from: Option<String>,
    /// Envelope recipient; RCPT TO is sent only when given.
    #[arg(long, value_name = "ADDR")]
    pub rcpt: Option<String>,
    /// Deliver a small, clearly labelled test message (needs --rcpt).
    #[arg(long)]
    pub send: bool,
    /// Bound on the whole dialogue, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 10.0)]
    pub timeout: f64,
    #[arg(long)]
    pub json: bool,
    /// Do not verify the server's TLS certificate (name and chain). Off by default.
    #[arg(long)]
    pub insecure: bool,
    /// Also trust the CA certificates in this PEM file.
    #[arg(long, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,
    /// AUTH as this user; the password is read from the OS keyring
    /// (service "headroom", account USER@HOST).
    #[arg(long, value_name = "USER")]
    pub user: Option<String>,
}

pub async fn run(a: ProbeArgs) -> u8 {
    let tls = match a.tls {
        TlsArg::None => TlsMode::None,
        TlsArg::Starttls => TlsMode::Starttls,
        TlsArg::Implicit => TlsMode::Implicit,
    };
    let timeout = match Duration::try_from_secs_f64(a.timeout) {
        Ok(d) if !d.is_zero() && a.timeout <= 3600.0 => d,
        _ => {
            eprintln!(
                "headroom-cli probe: invalid --timeout {}: must be more than 0 and at most 3600",
                a.timeout
            );
            return EXIT_UNKNOWN;
        }
    };
    let mut spec = ProbeSpec::new(a.host.clone(), 25);
    spec.name = "cli".into();
    spec.port = a
        .port
        .unwrap_or(if tls == TlsMode::Implicit { 465 } else { 25 });
    spec.tls = tls;
    spec.verify_tls = !a.insecure;
    spec.ca_file = a.ca_file;
    spec.timeout = timeout;
    spec.helo = a.helo;
    spec.mail_from = a.from.unwrap_or_default();
    spec.rcpt_to = a.rcpt;
    spec.send = a.send;
    spec.username = a.user;
    let probe = match spec.validate() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("headroom-cli probe: {e}");
            return EXIT_UNKNOWN;
        }
    };
    let result = probe.run().await;
    let mut out = io::stdout().lock();
    let written = if a.json {
        match serde_json::to_string(&result) {
            Ok(s) => writeln!(out, "{s}"),
            Err(e) => {
                eprintln!("headroom-cli probe: cannot encode the result: {e}");
                return EXIT_UNKNOWN;
            }
        }
    } else {
        print_human(&mut out, &result)
    };
    // A reader that went away (`| head -0`) is not the probe's failure: the exit code
    // still says how the dialogue ended.
    if let Err(e) = written.and_then(|()| out.flush()) {
        if e.kind() != io::ErrorKind::BrokenPipe {
            eprintln!("headroom-cli probe: cannot write the result: {e}");
        }
    }
    result.outcome.exit_code()
}

/// `SMTP OK - 127.0.0.1:25 ok at quit after 2.9 ms: 221 2.0.0 Bye | time=2.9ms …`
fn print_human(out: &mut impl Write, r: &ProbeResult) -> io::Result<()> {
    let status = match r.outcome.exit_code() {
        0 => "OK",
        1 => "WARNING",
        _ => "CRITICAL",
    };
    let mut perf = vec![format!("time={:.3}ms", r.total_ms)];
    perf.extend(r.timings_ms.iter().map(|(p, v)| format!("{p}={v:.3}ms")));
    writeln!(
        out,
        "SMTP {status} - {} | {}",
        for_perfdata(&r.summary()),
        perf.join(" ")
    )?;
    if let Some(d) = &r.detail {
        writeln!(out, "{}", for_terminal(d))?;
    }
    if r.class != Class::Ok {
        // What it means and what to do; this command reads no server configuration,
        // so the explanation names parameters with their defaults.
        let limits = Limits::new();
        let e = match &r.reply {
            Some(rep) => explain_reply(
                rep.code,
                rep.enhanced.as_deref(),
                &rep.text,
                Some(Side::Local),
                &limits,
            ),
            None => explain_class(r.class, Some(Side::Local), &limits),
        };
        // The explanation may quote the reply.
        writeln!(out, "{}", for_terminal(&e.meaning))?;
        for f in e.fixes.iter().take(3) {
            writeln!(out, "  - {}", for_terminal(f))?;
        }
    }
    Ok(())
}
