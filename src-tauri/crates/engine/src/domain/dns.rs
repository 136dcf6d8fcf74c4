//! DNS look-ups for the domain checks: the [`Dns`] trait the checks are written
//! against (engine tests feed a fake), hickory-resolver behind it for the real thing,
//! and [`Cached`], which keeps each answer for its TTL and counts the queries that
//! really went out (the figure blocklists' usage limits are about).

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hickory_resolver::config::{NameServerConfig, ResolverConfig, ResolverOpts};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::{DnsError, NetError};
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::{RData, RecordType};
use hickory_resolver::TokioResolver;
use tokio::sync::OnceCell;
use tokio::time::Instant;

use crate::config::ResolverAddr;

/// The record types the checks ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QType {
    A,
    Aaaa,
    Ptr,
    Txt,
    Mx,
}

impl QType {
    fn record_type(self) -> RecordType {
        match self {
            QType::A => RecordType::A,
            QType::Aaaa => RecordType::AAAA,
            QType::Ptr => RecordType::PTR,
            QType::Txt => RecordType::TXT,
            QType::Mx => RecordType::MX,
        }
    }
}

/// One record of an answer. Names are lower case without the final dot; TXT strings
/// of one record are joined, as RFC 7208 and RFC 7489 read them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rec {
    A(Ipv4Addr),
    Aaaa(Ipv6Addr),
    Ptr(String),
    Txt(String),
    Mx(u16, String),
}

/// What the resolver said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Records(Vec<Rec>),
    /// The name does not exist.
    NxDomain,
    /// The name exists without records of this type.
    NoData,
    /// No trustworthy answer: timeout, SERVFAIL, REFUSED, no resolver.
    Failed(String),
}

impl Answer {
    pub fn records(&self) -> &[Rec] {
        match self {
            Answer::Records(r) => r,
            _ => &[],
        }
    }

    /// NXDOMAIN or NODATA: the resolver answered, and there is nothing.
    pub fn is_empty_answer(&self) -> bool {
        matches!(self, Answer::NxDomain | Answer::NoData)
    }

    pub fn ips(&self) -> Vec<IpAddr> {
        self.records()
            .iter()
            .filter_map(|r| match r {
                Rec::A(a) => Some(IpAddr::V4(*a)),
                Rec::Aaaa(a) => Some(IpAddr::V6(*a)),
                _ => None,
            })
            .collect()
    }

    pub fn txts(&self) -> Vec<&str> {
        self.records()
            .iter()
            .filter_map(|r| match r {
                Rec::Txt(t) => Some(t.as_str()),
                _ => None,
            })
            .collect()
    }
}

/// An answer and how long it may be kept (seconds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub answer: Answer,
    pub ttl: u32,
}

/// A DNS client. `name` is a domain name without the final dot.
pub trait Dns: Send + Sync {
    fn query(&self, name: &str, qtype: QType) -> impl Future<Output = Response> + Send;
}

/// Per-query timeout and tries: a dead resolver costs each look-up at most 2 × 2 s.
const TIMEOUT: Duration = Duration::from_secs(2);
const ATTEMPTS: usize = 2;
/// Longest a TXT record's text is kept: SPF and DMARC records are far shorter.
const MAX_TXT: usize = 4096;

/// hickory-resolver with our options: no search domains, no hosts file, no cache of
/// its own ([`Cached`] keeps answers and counts queries).
pub struct HickoryDns {
    resolver: TokioResolver,
}

impl HickoryDns {
    pub fn new(addr: ResolverAddr) -> Result<HickoryDns, String> {
        let mut builder = match addr {
            ResolverAddr::System => TokioResolver::builder_tokio()
                .map_err(|e| format!("cannot read the system resolver (/etc/resolv.conf): {e}"))?,
            ResolverAddr::Server(sa) => {
                let mut ns = NameServerConfig::udp_and_tcp(sa.ip());
                for c in &mut ns.connections {
                    c.port = sa.port();
                }
                TokioResolver::builder_with_config(
                    ResolverConfig::from_name_servers(vec![ns]),
                    TokioRuntimeProvider::default(),
                )
            }
        };
        let o: &mut ResolverOpts = builder.options_mut();
        o.timeout = TIMEOUT;
        o.attempts = ATTEMPTS;
        o.cache_size = 0;
        o.ndots = 0;
        o.use_hosts_file = hickory_resolver::config::ResolveHosts::Never;
        o.preserve_intermediates = false;
        let resolver = builder
            .build()
            .map_err(|e| format!("cannot set up the DNS resolver: {e}"))?;
        Ok(HickoryDns { resolver })
    }
}

impl Dns for HickoryDns {
    async fn query(&self, name: &str, qtype: QType) -> Response {
        // The final dot makes the name absolute: no search domain is tried.
        let fqdn = format!("{}.", name.trim_end_matches('.'));
        match self
            .resolver
            .lookup(fqdn.as_str(), qtype.record_type())
            .await
        {
            Ok(lookup) => {
                let mut ttl = u32::MAX;
                let mut recs = Vec::new();
                for r in lookup.answers() {
                    let rec = match &r.data {
                        RData::A(a) if qtype == QType::A => Rec::A(a.0),
                        RData::AAAA(a) if qtype == QType::Aaaa => Rec::Aaaa(a.0),
                        RData::PTR(p) if qtype == QType::Ptr => Rec::Ptr(name_text(&p.0)),
                        RData::MX(m) if qtype == QType::Mx => {
                            Rec::Mx(m.preference, name_text(&m.exchange))
                        }
                        RData::TXT(t) if qtype == QType::Txt => Rec::Txt(txt_text(&t.txt_data)),
                        // CNAMEs on the way and records of other types are not the answer.
                        _ => continue,
                    };
                    ttl = ttl.min(r.ttl);
                    recs.push(rec);
                }
                if recs.is_empty() {
                    Response {
                        answer: Answer::NoData,
                        ttl: 0,
                    }
                } else {
                    Response {
                        answer: Answer::Records(recs),
                        ttl,
                    }
                }
            }
            Err(e) => failure(&e),
        }
    }
}

fn failure(e: &NetError) -> Response {
    if let NetError::Dns(DnsError::NoRecordsFound(nr)) = e {
        let ttl = nr.negative_ttl.unwrap_or(0);
        let answer = if nr.response_code == ResponseCode::NXDomain {
            Answer::NxDomain
        } else {
            Answer::NoData
        };
        return Response { answer, ttl };
    }
    let why = match e {
        NetError::Timeout => "no answer (timed out)".to_string(),
        NetError::Dns(DnsError::ResponseCode(code)) => format!("the resolver answered {code}"),
        other => other.to_string(),
    };
    Response {
        answer: Answer::Failed(why),
        ttl: 0,
    }
}

fn name_text(n: &hickory_resolver::proto::rr::Name) -> String {
    n.to_ascii().trim_end_matches('.').to_ascii_lowercase()
}

/// The strings of one TXT record joined (RFC 7208 §3.3), lossy UTF-8, bounded.
fn txt_text(parts: &[Box<[u8]>]) -> String {
    let mut bytes = Vec::new();
    for p in parts {
        bytes.extend_from_slice(p);
        if bytes.len() > MAX_TXT {
            bytes.truncate(MAX_TXT);
            break;
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Answers kept at most this long whatever their TTL, and no more entries than this.
const MAX_KEEP_S: u32 = 24 * 3600;
const MAX_ENTRIES: usize = 4096;

type Key = (String, QType);

/// A [`Dns`] that keeps each answer for its TTL (a failure is never kept), asks only
/// once for a name that several checks want at the same time (the MX hosts are
/// wanted by the MX check and by SPF's `mx`), and counts the queries that went to the
/// resolver.
pub struct Cached<D> {
    inner: D,
    entries: Mutex<HashMap<Key, (Response, Instant)>>,
    /// Look-ups under way; the others that want the same answer wait for it.
    inflight: Mutex<HashMap<Key, Arc<OnceCell<Response>>>>,
    sent: AtomicU64,
}

impl<D: Dns> Cached<D> {
    pub fn new(inner: D) -> Self {
        Cached {
            inner,
            entries: Mutex::new(HashMap::new()),
            inflight: Mutex::new(HashMap::new()),
            sent: AtomicU64::new(0),
        }
    }

    /// The look-up of `key` under way, or a new one. A finished one still in the
    /// table (its askers gave up before removing it) is stale: its answer is in
    /// `entries`, or it failed and must be asked again.
    fn inflight_cell(&self, key: &Key) -> Arc<OnceCell<Response>> {
        let Ok(mut inflight) = self.inflight.lock() else {
            return Arc::default();
        };
        let cell = inflight.entry(key.clone()).or_default();
        if cell.initialized() {
            *cell = Arc::default();
        }
        cell.clone()
    }

    fn done(&self, key: &Key, cell: &Arc<OnceCell<Response>>) {
        if let Ok(mut inflight) = self.inflight.lock() {
            if inflight.get(key).is_some_and(|c| Arc::ptr_eq(c, cell)) {
                inflight.remove(key);
            }
        }
    }

    /// Queries sent to the resolver so far (cache hits excluded).
    pub fn queries_sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    fn lookup_cached(&self, key: &(String, QType)) -> Option<Response> {
        let now = Instant::now();
        let entries = self.entries.lock().ok()?;
        let (resp, until) = entries.get(key)?;
        (*until > now).then(|| resp.clone())
    }

    fn keep(&self, key: (String, QType), resp: &Response) {
        if matches!(resp.answer, Answer::Failed(_)) || resp.ttl == 0 {
            return;
        }
        let now = Instant::now();
        let until = now + Duration::from_secs(u64::from(resp.ttl.min(MAX_KEEP_S)));
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= MAX_ENTRIES {
                entries.retain(|_, (_, u)| *u > now);
                if entries.len() >= MAX_ENTRIES {
                    entries.clear();
                }
            }
            entries.insert(key, (resp.clone(), until));
        }
    }
}

impl<D: Dns> Dns for Cached<D> {
    async fn query(&self, name: &str, qtype: QType) -> Response {
        let key = (name.trim_end_matches('.').to_ascii_lowercase(), qtype);
        if let Some(r) = self.lookup_cached(&key) {
            return r;
        }
        let cell = self.inflight_cell(&key);
        let resp = cell
            .get_or_init(|| async {
                self.sent.fetch_add(1, Ordering::Relaxed);
                let resp = self.inner.query(&key.0, qtype).await;
                self.keep(key.clone(), &resp);
                resp
            })
            .await
            .clone();
        self.done(&key, &cell);
        resp
    }
}

/// The name a DNSBL or the reverse tree is asked under: `4.3.2.1` for 1.2.3.4, the
/// 32 nibbles for an IPv6 address (RFC 5782 §2.1, §2.4).
pub fn reversed(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            format!("{}.{}.{}.{}", o[3], o[2], o[1], o[0])
        }
        IpAddr::V6(v6) => {
            let mut s = String::with_capacity(64);
            for b in v6.octets().iter().rev() {
                for nibble in [b & 0x0f, b >> 4] {
                    if !s.is_empty() {
                        s.push('.');
                    }
                    s.push(char::from_digit(u32::from(nibble), 16).unwrap_or('0'));
                }
            }
            s
        }
    }
}

/// The PTR name of an address (`4.3.2.1.in-addr.arpa`, `….ip6.arpa`).
pub fn ptr_name(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(_) => format!("{}.in-addr.arpa", reversed(ip)),
        IpAddr::V6(_) => format!("{}.ip6.arpa", reversed(ip)),
    }
}

#[cfg(test)]
pub mod fake {
    //! A [`Dns`] that answers from a table, for the checks' unit tests.
    use super::*;

    #[derive(Default)]
    pub struct FakeDns {
        pub table: HashMap<(String, QType), Answer>,
        pub asked: Mutex<Vec<(String, QType)>>,
    }

    impl FakeDns {
        pub fn with(mut self, name: &str, qtype: QType, answer: Answer) -> Self {
            self.table.insert((name.to_string(), qtype), answer);
            self
        }

        pub fn txt(self, name: &str, texts: &[&str]) -> Self {
            let recs = texts.iter().map(|t| Rec::Txt(t.to_string())).collect();
            self.with(name, QType::Txt, Answer::Records(recs))
        }

        pub fn a(self, name: &str, ips: &[&str]) -> Self {
            let recs = ips
                .iter()
                .map(|i| match i.parse::<IpAddr>() {
                    Ok(IpAddr::V4(a)) => Rec::A(a),
                    Ok(IpAddr::V6(a)) => Rec::Aaaa(a),
                    Err(_) => panic!("bad test address {i}"),
                })
                .collect::<Vec<_>>();
            let qtype = if matches!(recs.first(), Some(Rec::Aaaa(_))) {
                QType::Aaaa
            } else {
                QType::A
            };
            self.with(name, qtype, Answer::Records(recs))
        }

        pub fn count(&self, name: &str) -> usize {
            self.asked
                .lock()
                .map(|a| a.iter().filter(|(n, _)| n == name).count())
                .unwrap_or(0)
        }
    }

    impl Dns for FakeDns {
        async fn query(&self, name: &str, qtype: QType) -> Response {
            if let Ok(mut a) = self.asked.lock() {
                a.push((name.to_string(), qtype));
            }
            let answer = self
                .table
                .get(&(name.to_string(), qtype))
                .cloned()
                .unwrap_or(Answer::NxDomain);
            Response { answer, ttl: 300 }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fake::FakeDns;
    use super::*;

    #[test]
    fn addresses_are_reversed_as_rfc_5782_says() {
        assert_eq!(reversed("192.0.2.99".parse().expect("ip")), "99.2.0.192");
        assert_eq!(
            reversed("2001:db8:1:2:3:4:567:89ab".parse().expect("ip")),
            "b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2"
        );
        assert_eq!(
            ptr_name("127.0.0.2".parse().expect("ip")),
            "2.0.0.127.in-addr.arpa"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn answers_are_kept_for_their_ttl_and_failures_not_at_all() {
        let fake = FakeDns::default().a("mx.example.org", &["192.0.2.1"]);
        let dns = Cached::new(fake);
        for _ in 0..3 {
            let r = dns.query("MX.example.org.", QType::A).await;
            assert_eq!(r.answer.ips(), ["192.0.2.1".parse::<IpAddr>().expect("ip")]);
        }
        assert_eq!(dns.queries_sent(), 1);
        tokio::time::advance(Duration::from_secs(301)).await;
        dns.query("mx.example.org", QType::A).await;
        assert_eq!(dns.queries_sent(), 2);

        struct Failing;
        impl Dns for Failing {
            async fn query(&self, _: &str, _: QType) -> Response {
                Response {
                    answer: Answer::Failed("SERVFAIL".into()),
                    ttl: 300,
                }
            }
        }
        let dns = Cached::new(Failing);
        dns.query("a.example", QType::A).await;
        dns.query("a.example", QType::A).await;
        assert_eq!(dns.queries_sent(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_name_asked_for_by_several_checks_at_once_is_queried_once() {
        /// Answers after a second, counting what it was asked.
        struct Slow(AtomicU64);
        impl Dns for Slow {
            async fn query(&self, _: &str, _: QType) -> Response {
                self.0.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_secs(1)).await;
                Response {
                    answer: Answer::Failed("timed out".into()),
                    ttl: 0,
                }
            }
        }
        let dns = Cached::new(Slow(AtomicU64::new(0)));
        let (a, b, c) = tokio::join!(
            dns.query("mx.example.org", QType::A),
            dns.query("MX.example.org.", QType::A),
            dns.query("mx.example.org", QType::Aaaa),
        );
        assert_eq!(a, b);
        assert!(matches!(c.answer, Answer::Failed(_)));
        assert_eq!(dns.queries_sent(), 2);
        assert_eq!(dns.inner.0.load(Ordering::Relaxed), 2);
        // Finished: a failure is asked again next time, not served from the table.
        dns.query("mx.example.org", QType::A).await;
        assert_eq!(dns.queries_sent(), 3);
    }
}
