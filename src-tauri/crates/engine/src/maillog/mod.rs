//! Who is deferring our mail, and why: the mail log read line by line (files followed
//! across rotation, or journald), each line that records an SMTP failure turned into a
//! [`Record`] with the one taxonomy of [`crate::classify`], and records aggregated per
//! destination into the `remote_throttling` headroom input.
//!
//! Parsing borrows from the line and allocates nothing for lines that record no
//! failure, so a million-line log classifies in well under a second.

/// A substring search whose finder is built once: building a `memmem` finder for
/// every line would cost more than the search itself.
macro_rules! find {
    ($hay:expr, $needle:literal) => {{
        static FINDER: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
            std::sync::LazyLock::new(|| memchr::memmem::Finder::new($needle));
        FINDER.find($hay)
    }};
}

mod aggregate;
mod error;
mod exim;
mod journal;
mod lines;
mod postfix;
mod supervise;
mod tail;
pub mod timestamp;

#[cfg(test)]
mod tests;

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

pub use crate::classify::Side;
use crate::classify::{reason_of, Class, Reason, Reply};

pub use aggregate::{
    Aggregator, ClassCount, DestinationReport, Example, MaillogReport, Observed, SharedAggregator,
    SourceStats, ThrottlingReading, MAX_MEMORY_BYTES, MAX_NAME_BYTES, THROTTLING_WINDOW_S,
};
pub use error::MaillogError;
pub use journal::{follow_journal, has_mail_units, journal_line, JournalSource};
pub use lines::{Line, LineSplitter, Skip, MAX_LINE};
pub use supervise::{default_maillogs, LogProblem, MaillogFollowers};
pub use tail::{check_followable, follow_file, FileKind, FileTail, NotFollowable, StartAt};

/// The MTA that wrote a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mta {
    Postfix,
    Exim,
}

impl Mta {
    pub fn as_str(self) -> &'static str {
        match self {
            Mta::Postfix => "postfix",
            Mta::Exim => "exim",
        }
    }
}

/// One line that records a temporary or permanent SMTP failure, borrowed from the line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record<'a> {
    pub mta: Mta,
    pub queue_id: Option<&'a str>,
    pub side: Side,
    /// `host[ip]:port` (or `host[ip]` when the log names no port).
    pub relay: Option<Cow<'a, str>>,
    /// The recipient's domain.
    pub domain: Option<&'a str>,
    pub code: Option<u16>,
    pub enhanced: Option<&'a str>,
    pub class: Class,
    /// The reply as logged (continuation prefixes still in place), or the outcome or
    /// warning text when there was no reply.
    pub raw: &'a str,
}

impl Record<'_> {
    /// The reply text with its `NNN-x.y.z ` prefixes removed and lines joined.
    pub fn text(&self) -> String {
        if self.code.is_some() {
            if let Some(r) = Reply::parse(self.raw) {
                return r.text;
            }
        }
        self.raw.trim().to_string()
    }

    /// Why, when the reply names a cause (docs/CLASSIFY.md): computed on demand, so
    /// lines that only feed the counts cost nothing more. Read from the joined text:
    /// a continuation prefix can fall inside a phrase ("PTR 451-4.7.23 record").
    pub fn reason(&self) -> Option<Reason> {
        reason_of(
            self.code.unwrap_or(0),
            self.enhanced,
            &self.text(),
            self.class,
        )
    }

    /// The owned form printed by `headroom-cli classify --json` (field order is the contract).
    pub fn to_deferral(&self, line: u64) -> Deferral {
        Deferral {
            line,
            mta: self.mta,
            queue_id: self.queue_id.map(str::to_string),
            side: self.side,
            relay: self.relay.as_ref().map(|r| r.to_string()),
            domain: self.domain.map(str::to_string),
            code: self.code,
            enhanced: self.enhanced.map(str::to_string),
            class: self.class,
            reason: self.reason(),
            text: self.text(),
        }
    }
}

/// The `classify --json` object (DESIGN.md, "classify --json").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deferral {
    pub line: u64,
    pub mta: Mta,
    pub queue_id: Option<String>,
    pub side: Side,
    pub relay: Option<String>,
    pub domain: Option<String>,
    pub code: Option<u16>,
    pub enhanced: Option<String>,
    pub class: Class,
    /// Additive to DESIGN.md's fields: the cause, or null (docs/CLASSIFY.md).
    pub reason: Option<Reason>,
    pub text: String,
}

/// What one line says, for the aggregation: a failure, a delivery (the denominator
/// of the throttling ratio), or nothing of interest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed<'a> {
    Failure(Record<'a>),
    Delivered {
        domain: Option<&'a str>,
        relay: Option<&'a str>,
    },
    Nothing,
}

/// Parses one log line (Postfix via syslog or `maillog_file`, Exim's mainlog or Exim
/// via syslog; classic or RFC 3339 timestamps). Never panics on any input.
pub fn parse(line: &str) -> Parsed<'_> {
    parse_line(line, true)
}

/// The failure a line records, if any (deliveries are not looked into: faster).
pub fn parse_failure(line: &str) -> Option<Record<'_>> {
    match parse_line(line, false) {
        Parsed::Failure(r) => Some(r),
        _ => None,
    }
}

fn parse_line(line: &str, deliveries: bool) -> Parsed<'_> {
    let b = line.as_bytes();
    if let Some(rest) = exim::after_mainlog_stamp(line) {
        match exim::parse_message(rest, deliveries) {
            Parsed::Nothing => {} // maybe a syslog line with a space-separated stamp
            p => return p,
        }
    }
    // The end of the program tag `prog[pid]: `: the first `]` followed by `: `.
    let Some(tag_end) = memchr::memchr_iter(b']', b).find(|&i| b[i + 1..].starts_with(b": "))
    else {
        return Parsed::Nothing;
    };
    let Some(open) = memchr::memrchr(b'[', &b[..tag_end]) else {
        return Parsed::Nothing;
    };
    let prog_start = memchr::memrchr(b' ', &b[..open]).map_or(0, |i| i + 1);
    let program = &line[prog_start..open];
    let msg = &line[tag_end + 3..];
    if let Some(slash) = program.rfind('/') {
        postfix::parse_message(&program[slash + 1..], msg, deliveries)
    } else if program.starts_with("exim") {
        exim::parse_message(msg, deliveries)
    } else {
        Parsed::Nothing
    }
}

/// The domain of an address (`alice@gmail.com` → `gmail.com`), if it has one.
fn domain_of(addr: &str) -> Option<&str> {
    let at = addr.rfind('@')?;
    let d = &addr[at + 1..];
    (!d.is_empty()).then_some(d)
}
