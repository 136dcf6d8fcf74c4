//! The item table: every headroom item Headroom knows, and every fact about it in one
//! place — its stable id, label, unit, the source that reads it, how it is smoothed,
//! whether a time-to-limit forecast means something, and what to do when it runs
//! short. Item ids are a contract (DESIGN.md). A leaf module: it imports nothing from
//! the rest of the engine, so config, assess, history and the hosts can all use it.
//!
//! The window gets the same table: `cargo test` writes `ui/src/bindings/ItemId.ts` and
//! `ui/src/bindings/items.ts` from it (see `export_item_table_for_the_window`).

use serde::{Deserialize, Serialize};

/// A headroom item's stable id (`"smtpd_processes"` in JSON, TOML and the window).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ts_rs::TS,
)]
#[ts(export)]
#[serde(rename_all = "snake_case")]
pub enum ItemId {
    SmtpdProcesses,
    AcceptBacklog,
    ClientConnections,
    QueueDisk,
    QueueInodes,
    ActiveQueue,
    DeferredQueue,
    OldestMessage,
    Cpu,
    Memory,
    Swap,
    Load,
    DiskIo,
    ProbeLatency,
    ProbeFailures,
    RemoteThrottling,
    TlsCertExpiry,
    Dnsbl,
    ReverseDns,
    MailDns,
}

/// The unit an item's `used` and `limit` are in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
#[serde(rename_all = "lowercase")]
pub enum Unit {
    Count,
    Percent,
    Bytes,
    Seconds,
    Load,
    Millis,
}

/// The source whose reading feeds an item, as named in `Snapshot::problems`: when that
/// source fails, its items turn unknown with the source's reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Host,
    Mta,
    Probe,
    Maillog,
    /// The domain-health checks (`headroom-cli dns`): DNS and the served certificates.
    Domain,
}

impl Source {
    /// The name a failing source reports itself under (`SourceProblem::source`).
    pub fn name(self) -> &'static str {
        match self {
            Source::Host => "host",
            Source::Mta => "mta",
            Source::Probe => "probe",
            Source::Maillog => "maillog",
            Source::Domain => "domain",
        }
    }
}

/// When an item may be critical. Critical means the server refuses or stalls mail at
/// the limit; what is only context (a busy CPU, a full memory on a server that refuses
/// nothing for it) may warn but never goes critical on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Critical {
    /// Crossing the limit is a refusal or a stall (process slots, per-client limit,
    /// queue space, a probe that is refused).
    Always,
    /// Only when the limit is the server's own refusal point (load against Exim's
    /// smtp_load_reserve or Sendmail's RefuseLA; against the core count it is context).
    WhenTheServerRefusesAtIt,
    /// Context: warning at most.
    Never,
}

/// Everything about one item.
#[derive(Debug, Clone, Copy)]
pub struct ItemInfo {
    pub id: ItemId,
    /// For sentences: "smtpd processes 88/100".
    pub label: &'static str,
    /// For headings in the window: "Clients waiting for a banner".
    pub title: &'static str,
    pub unit: Unit,
    pub source: Source,
    /// Rates that swing from second to second are judged by their mean over this many
    /// seconds, as load averages are.
    pub smoothing_s: Option<f64>,
    /// Whether a time-to-limit forecast means something: true for quantities that
    /// accumulate (processes, queues, space), false for rates that swing (CPU, I/O).
    pub forecast: bool,
    pub critical: Critical,
    pub fix: &'static str,
}

use Critical as C;
use ItemId as I;
use Source as S;
use Unit as U;

const fn row(
    id: ItemId,
    label: &'static str,
    title: &'static str,
    unit: Unit,
    source: Source,
    forecast: bool,
    fix: &'static str,
) -> ItemInfo {
    ItemInfo {
        id,
        label,
        title,
        unit,
        source,
        smoothing_s: None,
        forecast,
        critical: C::Always,
        fix,
    }
}

const fn context(mut info: ItemInfo, critical: Critical) -> ItemInfo {
    info.critical = critical;
    info
}

const fn smoothed(mut info: ItemInfo, seconds: f64) -> ItemInfo {
    info.smoothing_s = Some(seconds);
    info
}

/// The table, in display order; `ITEMS[id as usize].id == id` for every id (tested).
pub const ITEMS: [ItemInfo; 20] = [
    row(I::SmtpdProcesses, "smtpd processes", "smtpd processes", U::Count, S::Mta, true,
        "raise maxproc of the service in master.cf (or default_process_limit) or find the slow clients holding sessions"),
    row(I::AcceptBacklog, "clients waiting for a banner", "Clients waiting for a banner", U::Count, S::Mta, true,
        "all smtpd processes are busy: raise maxproc in master.cf, enable postscreen, or lower smtpd_timeout"),
    row(I::ClientConnections, "connections from one client", "Connections from one client", U::Count, S::Mta, true,
        "raise smtpd_client_connection_count_limit, add the client to smtpd_client_event_limit_exceptions, or ask it to use fewer connections"),
    row(I::QueueDisk, "queue free space", "Queue free space", U::Bytes, S::Mta, true,
        "free space on the queue filesystem, or lower message_size_limit/queue_minfree; Postfix answers 452 4.3.1 below the threshold"),
    row(I::QueueInodes, "queue inodes", "Queue inodes", U::Count, S::Mta, true,
        "free inodes on the queue filesystem: delete old deferred mail (postsuper -d) or move the queue to a filesystem with more inodes"),
    row(I::ActiveQueue, "active queue", "Active queue", U::Count, S::Mta, true,
        "delivery is slower than arrival: check destination concurrency and remote throttling, or raise qmgr_message_active_limit"),
    row(I::DeferredQueue, "deferred queue", "Deferred queue", U::Count, S::Mta, true,
        "read the top delay reasons (postqueue -j, qshape deferred) and fix the destinations that defer"),
    row(I::OldestMessage, "oldest queued message", "Oldest queued message", U::Seconds, S::Mta, true,
        "a message is close to maximal_queue_lifetime: check why its destination defers"),
    context(smoothed(row(I::Cpu, "CPU", "CPU", U::Percent, S::Host, false,
        "find the busy processes (top); content filters and TLS handshakes are the usual cost on a mail host"), 60.0), C::Never),
    context(row(I::Memory, "memory", "Memory", U::Bytes, S::Host, true,
        "find what grows (ps aux --sort=-rss); lower process limits of heavy filters or add memory"), C::Never),
    context(row(I::Swap, "swap", "Swap", U::Bytes, S::Host, true,
        "the host is short of memory and swapping: reduce concurrency of heavy filters or add memory"), C::Never),
    context(row(I::Load, "load average", "Load average", U::Load, S::Host, false,
        "more runnable tasks than cores: check CPU and I/O wait; Exim refuses mail above smtp_load_reserve"), C::WhenTheServerRefusesAtIt),
    context(smoothed(row(I::DiskIo, "disk I/O", "Disk I/O", U::Percent, S::Host, false,
        "the disk is saturated: queue file writes will slow acceptance; check iotop and move the queue to a faster device"), 60.0), C::Never),
    context(row(I::ProbeLatency, "probe latency", "Probe latency", U::Millis, S::Probe, true,
        "the server answers slowly: check CPU, I/O and DNS lookups of smtpd, and the number of busy smtpd processes"), C::Never),
    row(I::ProbeFailures, "consecutive probe failures", "Consecutive probe failures", U::Count, S::Probe, false,
        "the server does not answer probes: read the probe log for the reply and its explanation"),
    row(I::RemoteThrottling, "remote throttling", "Remote throttling", U::Count, S::Maillog, false,
        "a destination is throttling us: lower smtp_destination_concurrency_limit or raise smtp_destination_rate_delay for it, warm up, check reputation"),
    // Time into the certificate's last stretch against its expiry: a known deadline, so
    // the forecast is the exact time left (see assess::domain_items).
    row(I::TlsCertExpiry, "TLS certificate", "TLS certificate expiry", U::Seconds, S::Domain, true,
        "renew the certificate (certbot renew, or your ACME client's log) and reload the mail server so it serves the new one (postfix reload)"),
    // Counts of problems found; none is ever made up when a look-up fails.
    row(I::Dnsbl, "blocklist listings", "Blocklist listings", U::Count, S::Domain, false,
        "find why the address is listed (the zone's lookup page, its TXT reason), stop the cause (compromised account, open relay, bulk sender), then request delisting"),
    row(I::ReverseDns, "reverse DNS problems", "Reverse DNS", U::Count, S::Domain, false,
        "ask whoever owns the address (hosting provider, ISP) for a PTR record naming the HELO host, and give that name an A/AAAA record pointing back at the address"),
    row(I::MailDns, "mail DNS problems", "Mail DNS records", U::Count, S::Domain, false,
        "fix the quoted record at your DNS host: MX must resolve, SPF must stay within 10 DNS look-ups, DMARC must parse, an MTA-STS policy must be fetchable and name every MX"),
];

impl ItemId {
    /// Every id, in display order.
    pub const ALL: [ItemId; ITEMS.len()] = {
        let mut all = [ItemId::SmtpdProcesses; ITEMS.len()];
        let mut i = 0;
        while i < ITEMS.len() {
            all[i] = ITEMS[i].id;
            i += 1;
        }
        all
    };

    pub fn info(self) -> &'static ItemInfo {
        &ITEMS[self as usize]
    }

    /// The stable id as text ("smtpd_processes").
    pub fn as_str(self) -> &'static str {
        match self {
            I::SmtpdProcesses => "smtpd_processes",
            I::AcceptBacklog => "accept_backlog",
            I::ClientConnections => "client_connections",
            I::QueueDisk => "queue_disk",
            I::QueueInodes => "queue_inodes",
            I::ActiveQueue => "active_queue",
            I::DeferredQueue => "deferred_queue",
            I::OldestMessage => "oldest_message",
            I::Cpu => "cpu",
            I::Memory => "memory",
            I::Swap => "swap",
            I::Load => "load",
            I::DiskIo => "disk_io",
            I::ProbeLatency => "probe_latency",
            I::ProbeFailures => "probe_failures",
            I::RemoteThrottling => "remote_throttling",
            I::TlsCertExpiry => "tls_cert_expiry",
            I::Dnsbl => "dnsbl",
            I::ReverseDns => "reverse_dns",
            I::MailDns => "mail_dns",
        }
    }

    /// The id for its text, if there is one.
    pub fn parse(s: &str) -> Option<ItemId> {
        ItemId::ALL.into_iter().find(|id| id.as_str() == s)
    }
}

impl std::fmt::Display for ItemId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // `pad`, so `{:<18}` lines columns up as with a string.
        f.pad(self.as_str())
    }
}

/// An id equals its stable text (`id == "cpu"`), for code that meets ids as text.
impl PartialEq<&str> for ItemId {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<String> for ItemId {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other
    }
}

/// The TypeScript module the window reads labels and units from (written by a test
/// next to ts-rs's bindings; `make test` fails when the committed copy is stale).
pub fn typescript_table() -> String {
    let mut s = String::from(
        "// Generated from the engine's item table (src-tauri/crates/engine/src/item.rs) by\n\
         // `cargo test`. Do not edit.\n\
         import type { ItemId } from './ItemId';\n\
         import type { Unit } from './Unit';\n\n\
         export interface ItemRow {\n  label: string;\n  title: string;\n  unit: Unit;\n  forecast: boolean;\n}\n\n\
         export const ITEMS: Record<ItemId, ItemRow> = {\n",
    );
    for i in &ITEMS {
        let unit = serde_json::to_string(&i.unit).unwrap_or_default();
        s.push_str(&format!(
            "  {}: {{ label: {}, title: {}, unit: {unit}, forecast: {} }},\n",
            i.id.as_str(),
            serde_json::to_string(i.label).unwrap_or_default(),
            serde_json::to_string(i.title).unwrap_or_default(),
            i.forecast
        ));
    }
    s.push_str("};\n\nexport const ITEM_IDS: ItemId[] = [");
    s.push_str(
        &ITEMS
            .iter()
            .map(|i| format!("'{}'", i.id.as_str()))
            .collect::<Vec<_>>()
            .join(", "),
    );
    s.push_str("];\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_id_has_its_own_row_with_a_fix() {
        for (i, row) in ITEMS.iter().enumerate() {
            assert_eq!(row.id as usize, i, "{:?} is out of place", row.id);
            assert_eq!(row.id.info().id, row.id);
            assert!(!row.fix.is_empty(), "{:?} has no fix", row.id);
            assert!(!row.label.is_empty() && !row.title.is_empty());
        }
        assert_eq!(ItemId::ALL.len(), ITEMS.len());
    }

    #[test]
    fn ids_read_and_write_as_their_stable_text() {
        for id in ItemId::ALL {
            let json = serde_json::to_string(&id).expect("serializes");
            assert_eq!(json, format!("\"{}\"", id.as_str()));
            let back: ItemId = serde_json::from_str(&json).expect("parses");
            assert_eq!(back, id);
            assert_eq!(ItemId::parse(id.as_str()), Some(id));
        }
        assert_eq!(ItemId::parse("cpuu"), None);
    }

    #[test]
    fn host_resources_are_context_unless_the_server_refuses_at_them() {
        for id in [ItemId::Cpu, ItemId::Memory, ItemId::Swap, ItemId::DiskIo] {
            assert_eq!(id.info().critical, Critical::Never, "{id}");
        }
        assert_eq!(
            ItemId::Load.info().critical,
            Critical::WhenTheServerRefusesAtIt
        );
        for id in [
            ItemId::SmtpdProcesses,
            ItemId::ClientConnections,
            ItemId::QueueDisk,
            ItemId::ProbeFailures,
        ] {
            assert_eq!(id.info().critical, Critical::Always, "{id}");
        }
    }

    #[test]
    fn only_swinging_rates_are_smoothed_and_not_forecast() {
        for row in &ITEMS {
            if row.smoothing_s.is_some() {
                assert!(!row.forecast, "{:?}", row.id);
            }
        }
        assert_eq!(ItemId::Cpu.info().smoothing_s, Some(60.0));
        assert_eq!(ItemId::DiskIo.info().smoothing_s, Some(60.0));
    }

    /// Writes the window's copy of the table beside ts-rs's bindings. The committed
    /// file must equal what this writes (`make test` checks with git diff).
    #[test]
    fn export_item_table_for_the_window() {
        // Cargo sets TS_RS_EXPORT_DIR (absolute) from .cargo/config.toml; the fallback
        // is the same folder.
        let dir = std::env::var_os("TS_RS_EXPORT_DIR")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| {
                std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../ui/src/bindings")
            });
        std::fs::create_dir_all(&dir).expect("bindings directory");
        std::fs::write(dir.join("items.ts"), typescript_table()).expect("write items.ts");
    }
}
