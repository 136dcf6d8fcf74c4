//! `headroom-cli classify [FILE|-] [--json] [--summary]`: one record per mail-log line
//! that records an SMTP failure (DESIGN.md, "classify --json"), or counts per
//! (domain, class). Lines that are not UTF-8, hold NUL bytes or are too long are
//! skipped and counted on stderr.
//!
//! Log lines carry remote servers' replies: the human output passes every field taken
//! from the line through [`for_terminal`] (no escape sequences reach the terminal); the
//! JSON output escapes control characters by itself.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::Path;

use headroom_engine::classify::Class;
use headroom_engine::maillog::{parse_failure, Line, LineSplitter, Skip};
use headroom_engine::sanitize::for_terminal;

use crate::EXIT_UNKNOWN;

const CHUNK: usize = 1024 * 1024;

#[derive(Default)]
struct Counts {
    lines: u64,
    records: u64,
    invalid_utf8: u64,
    binary: u64,
    too_long: u64,
}

pub fn run(file: Option<&Path>, json: bool, summary: bool) -> u8 {
    let input: Box<dyn Read> = match file {
        None => Box::new(io::stdin().lock()),
        Some(p) if p.as_os_str() == "-" => Box::new(io::stdin().lock()),
        Some(p) => match File::open(p) {
            Ok(f) => Box::new(f),
            Err(e) => {
                eprintln!("headroom-cli: cannot read {}: {e}", p.display());
                return EXIT_UNKNOWN;
            }
        },
    };
    let stdout = io::stdout().lock();
    let mut out = io::BufWriter::with_capacity(256 * 1024, stdout);
    let result = if summary {
        summarize(input, &mut out, json)
    } else {
        records(input, &mut out, json)
    };
    let result = result.and_then(|c| out.flush().map(|_| c));
    match result {
        Ok(c) => {
            let skipped = c.invalid_utf8 + c.binary + c.too_long;
            if skipped > 0 {
                eprintln!(
                    "headroom-cli: skipped {skipped} of {} lines (invalid UTF-8 {}, binary {}, too long {})",
                    c.lines, c.invalid_utf8, c.binary, c.too_long
                );
            }
            0
        }
        // `classify … | head` closes the pipe early: not an error.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => 0,
        Err(e) => {
            eprintln!("headroom-cli: classify: {e}");
            EXIT_UNKNOWN
        }
    }
}

/// Reads `input` in large chunks and hands each line to `f` with its 1-based number.
fn for_each_line(
    mut input: impl Read,
    counts: &mut Counts,
    f: &mut dyn FnMut(u64, &str) -> io::Result<()>,
) -> io::Result<()> {
    let mut buf = vec![0u8; CHUNK];
    let mut splitter = LineSplitter::new();
    let mut err: Option<io::Error> = None;
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        splitter.feed(&buf[..n], &mut |l| on_line(l, counts, &mut err, f));
        if let Some(e) = err.take() {
            return Err(e);
        }
    }
    splitter.finish(&mut |l| on_line(l, counts, &mut err, f));
    err.map_or(Ok(()), Err)
}

fn on_line(
    l: Line<'_>,
    counts: &mut Counts,
    err: &mut Option<io::Error>,
    f: &mut dyn FnMut(u64, &str) -> io::Result<()>,
) {
    counts.lines += 1;
    match l {
        Line::Text(t) => {
            if err.is_none() {
                if let Err(e) = f(counts.lines, t) {
                    *err = Some(e);
                }
            }
        }
        Line::Skipped(Skip::InvalidUtf8) => counts.invalid_utf8 += 1,
        Line::Skipped(Skip::Binary) => counts.binary += 1,
        Line::Skipped(Skip::TooLong) => counts.too_long += 1,
    }
}

fn records(input: impl Read, out: &mut impl Write, json: bool) -> io::Result<Counts> {
    let mut counts = Counts::default();
    let mut n_records = 0u64;
    for_each_line(input, &mut counts, &mut |line_no, text| {
        let Some(r) = parse_failure(text) else {
            return Ok(());
        };
        n_records += 1;
        if json {
            serde_json::to_writer(&mut *out, &r.to_deferral(line_no))?;
            out.write_all(b"\n")
        } else {
            let d = r.to_deferral(line_no);
            let code = match (d.code, d.enhanced.as_deref()) {
                (Some(c), Some(e)) => format!("{c} {e}"),
                (Some(c), None) => c.to_string(),
                (None, _) => "-".to_string(),
            };
            // `LINE: CLASS SIDE DOMAIN CODE [ENHANCED] TEXT [MTA, relay RELAY]`
            let relay = d
                .relay
                .map(|r| format!(", relay {}", for_terminal(&r)))
                .unwrap_or_default();
            writeln!(
                out,
                "{}: {} {} {} {} {} [{}{}]",
                d.line,
                d.class,
                d.side.as_str(),
                for_terminal(d.domain.as_deref().unwrap_or("-")),
                for_terminal(&code),
                for_terminal(&d.text),
                d.mta.as_str(),
                relay
            )
        }
    })?;
    counts.records = n_records;
    Ok(counts)
}

fn summarize(input: impl Read, out: &mut impl Write, json: bool) -> io::Result<Counts> {
    const N: usize = Class::ALL.len();
    let mut counts = Counts::default();
    let mut by_domain: HashMap<String, [u64; N]> = HashMap::new();
    let mut n_records = 0u64;
    for_each_line(input, &mut counts, &mut |_, text| {
        if let Some(r) = parse_failure(text) {
            n_records += 1;
            let domain = r.domain.unwrap_or("-");
            // Only a domain seen for the first time allocates.
            let slot = match by_domain.get_mut(domain) {
                Some(s) => s,
                None => by_domain
                    .entry(domain.to_ascii_lowercase())
                    .or_insert([0; N]),
            };
            slot[r.class as usize] += 1;
        }
        Ok(())
    })?;
    counts.records = n_records;
    // Domains as shown: a terminal gets no escape sequences (JSON escapes its own).
    let shown: HashMap<&str, String> = if json {
        HashMap::new()
    } else {
        by_domain
            .keys()
            .map(|d| (d.as_str(), for_terminal(d)))
            .collect()
    };
    let mut rows: Vec<(&str, Class, u64)> = by_domain
        .iter()
        .flat_map(|(d, c)| {
            let name = shown.get(d.as_str()).map_or(d.as_str(), String::as_str);
            Class::ALL
                .iter()
                .zip(c)
                .filter(|(_, n)| **n > 0)
                .map(move |(class, n)| (name, *class, *n))
        })
        .collect();
    rows.sort_by(|a, b| b.2.cmp(&a.2).then(a.0.cmp(b.0)).then(a.1.cmp(&b.1)));
    if json {
        for (domain, class, count) in &rows {
            serde_json::to_writer(
                &mut *out,
                &serde_json::json!({"domain": domain, "class": class, "count": count}),
            )?;
            out.write_all(b"\n")?;
        }
    } else {
        let width = rows.iter().map(|r| r.0.len()).max().unwrap_or(6).max(6);
        writeln!(out, "{:<width$}  {:<17}  {:>8}", "domain", "class", "count")?;
        for (domain, class, count) in &rows {
            writeln!(out, "{domain:<width$}  {:<17}  {count:>8}", class.as_str())?;
        }
        writeln!(out, "{} failures in {} lines", counts.records, counts.lines)?;
    }
    Ok(counts)
}
