//! `tls_cert_expiry`: the certificate chain a TLS listener serves (STARTTLS after a
//! minimal SMTP greeting, or TLS from the first byte), read with rustls and
//! x509-parser, and judged: days left, chain trusted, name matching, and whether it is
//! the certificate the mail server is configured with on disk.
//!
//! The handshake accepts any certificate (its signatures are still checked) so an
//! expired or untrusted one can be read and reported; verification then runs on its
//! own with webpki against the system's roots and the target's `ca_file`.
//! Reading the chain off the wire is `served.rs`.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use rustls::client::danger::ServerCertVerifier;
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, RootCertStore};

use super::addrs::is_this_host;
use super::disk::{self, DiskCerts};
use super::served::{served_chain, Failure};
use super::{Finding, Verdict};
use crate::config::ProbeTarget;
use crate::item::ItemId;
use crate::mta::settings::Mta;
use crate::time::Ts;

/// The served leaf certificate's validity, for the item's deadline.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ServedCert {
    /// The probe target (`name (host:port)`).
    pub target: String,
    pub not_before: Ts,
    pub not_after: Ts,
}

/// What one listener gave: its findings and, when a certificate was read, its dates.
pub struct Checked {
    pub findings: Vec<Finding>,
    pub cert: Option<ServedCert>,
}

/// The whole exchange, connect to handshake, at most this long.
const MAX_TIMEOUT: Duration = Duration::from_secs(30);

/// Checks one TLS probe target. `helo` is the name we greet with and, when the target
/// is an address, the name its certificate must carry; `mta` gives the files on disk.
pub async fn check(t: &ProbeTarget, helo: Option<&str>, mta: Option<&Mta>, now: Ts) -> Checked {
    let subject = format!("{} ({}:{})", t.name, t.host, t.port);
    let finding = |result: Verdict, answer: Option<String>, detail: String| Finding {
        item: ItemId::TlsCertExpiry,
        subject: subject.clone(),
        zone: None,
        result,
        answer,
        detail,
    };
    let name = verify_name(&t.host, helo);
    let timeout = Duration::from_secs_f64(t.timeout_secs.clamp(1.0, MAX_TIMEOUT.as_secs_f64()));
    let chain = match tokio::time::timeout(timeout, served_chain(t, &name, helo)).await {
        Ok(Ok(c)) => c,
        Ok(Err(Failure::Unknown(why))) => {
            return Checked {
                findings: vec![finding(Verdict::Unknown, None, why)],
                cert: None,
            }
        }
        Ok(Err(Failure::Broken(why))) => {
            return Checked {
                findings: vec![finding(Verdict::Broken, None, why)],
                cert: None,
            }
        }
        Err(_) => {
            return Checked {
                findings: vec![finding(
                    Verdict::Unknown,
                    None,
                    format!("no TLS handshake within {:.0} s", timeout.as_secs_f64()),
                )],
                cert: None,
            }
        }
    };
    let Some(leaf) = chain.first() else {
        return Checked {
            findings: vec![finding(
                Verdict::Broken,
                None,
                "the server sent no certificate".into(),
            )],
            cert: None,
        };
    };
    let info = match LeafInfo::parse(leaf) {
        Ok(i) => i,
        Err(e) => {
            return Checked {
                findings: vec![finding(
                    Verdict::Broken,
                    None,
                    format!("the served certificate does not parse: {e}"),
                )],
                cert: None,
            }
        }
    };
    let answer = Some(info.summary());
    let mut findings = Vec::new();
    let left = info.not_after - now;
    findings.push(if left <= 0.0 {
        finding(
            Verdict::Broken,
            answer.clone(),
            format!("{EXPIRED}{} ago, on {}", days(-left), date(info.not_after)),
        )
    } else {
        finding(
            Verdict::Ok,
            answer.clone(),
            format!("{EXPIRES}{}, on {}", days(left), date(info.not_after)),
        )
    });
    if t.verify_tls {
        findings.extend(
            verify(&chain, &name, t.ca_file.as_deref())
                .into_iter()
                .map(|(v, d)| finding(v, answer.clone(), d)),
        );
    }
    if let Some(mta) = mta.filter(|_| is_this_host(&t.host)) {
        match disk::configured(mta, t.port).await {
            Ok(Some(on_disk)) => {
                if let Some(d) = compare_with_disk(leaf, &info, &on_disk) {
                    findings.push(finding(Verdict::Mismatch, answer.clone(), d));
                }
            }
            Ok(None) => {}
            Err(why) => findings.push(finding(
                Verdict::Unknown,
                answer.clone(),
                format!("cannot compare with the certificate on disk: {why}"),
            )),
        }
    }
    Checked {
        findings,
        cert: Some(ServedCert {
            target: subject,
            not_before: info.not_before,
            not_after: info.not_after,
        }),
    }
}

/// Whether a finding is the days-left one (the item measures that itself).
pub fn is_expiry(f: &Finding) -> bool {
    f.item == ItemId::TlsCertExpiry
        && (f.detail.starts_with(EXPIRED) || f.detail.starts_with(EXPIRES))
}

const EXPIRED: &str = "expired ";
const EXPIRES: &str = "expires in ";

/// The name the certificate must carry: the target's host name, or for a target
/// given as an address the HELO name (what senders find as our MX), else the address.
fn verify_name(host: &str, helo: Option<&str>) -> ServerName<'static> {
    let h = host.trim_matches(['[', ']']);
    if let Ok(ip) = h.parse::<IpAddr>() {
        if let Some(n) = helo.and_then(|n| ServerName::try_from(n.to_string()).ok()) {
            return n;
        }
        return ServerName::IpAddress(ip.into());
    }
    ServerName::try_from(h.to_string())
        .unwrap_or(ServerName::IpAddress(IpAddr::from([0, 0, 0, 0]).into()))
}

fn show_name(n: &ServerName<'_>) -> String {
    match n {
        ServerName::DnsName(d) => d.as_ref().to_string(),
        ServerName::IpAddress(ip) => IpAddr::from(*ip).to_string(),
        _ => "?".into(),
    }
}

/// Chain and name problems, as (result, detail). Expiry is reported on its own.
fn verify(
    chain: &[CertificateDer<'static>],
    name: &ServerName<'static>,
    ca_file: Option<&std::path::Path>,
) -> Vec<(Verdict, String)> {
    let mut roots = RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    roots.add_parsable_certificates(native.certs);
    if let Some(f) = ca_file {
        match disk::read_certs(f) {
            Ok(c) => {
                roots.add_parsable_certificates(c);
            }
            Err(e) => return vec![(Verdict::Unknown, format!("ca_file: {e}"))],
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier =
        match WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider).build() {
            Ok(v) => v,
            Err(e) => {
                return vec![(
                    Verdict::Unknown,
                    format!("no trusted roots to verify with: {e}"),
                )]
            }
        };
    let Some((leaf, rest)) = chain.split_first() else {
        return Vec::new();
    };
    let shown = show_name(name);
    let name_problem = || name_mismatch(leaf, name).map(|d| (Verdict::Mismatch, d));
    match verifier.verify_server_cert(leaf, rest, name, &[], UnixTime::now()) {
        Ok(_) => Vec::new(),
        Err(rustls::Error::InvalidCertificate(e)) => match e {
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                name_problem().into_iter().collect()
            }
            // Reported by the expiry finding.
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                name_problem().into_iter().collect()
            }
            CertificateError::UnknownIssuer => {
                let mut v = vec![(
                    Verdict::Broken,
                    format!(
                        "chain not trusted: no trusted root signs it (self-signed, a private CA, or an intermediate missing from the served chain); senders that verify (MTA-STS, DANE-less strict policies) refuse it for {shown}"
                    ),
                )];
                v.extend(name_problem());
                v
            }
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                vec![(
                    Verdict::Broken,
                    "not valid yet (check the clock of the server and of this host)".into(),
                )]
            }
            other => vec![(Verdict::Broken, format!("chain not trusted: {other:?}"))],
        },
        Err(other) => vec![(Verdict::Broken, format!("chain not trusted: {other}"))],
    }
}

/// Why the leaf is not valid for `name`, or `None` when it is.
fn name_mismatch(leaf: &CertificateDer<'_>, name: &ServerName<'_>) -> Option<String> {
    let ee = webpki::EndEntityCert::try_from(leaf).ok()?;
    if ee.verify_is_valid_for_subject_name(name).is_ok() {
        return None;
    }
    let names = LeafInfo::parse(leaf).map(|i| i.names).unwrap_or_default();
    Some(format!(
        "wrong name: the certificate is for {}, not {}",
        if names.is_empty() {
            "no DNS name".to_string()
        } else {
            names.join(", ")
        },
        show_name(name)
    ))
}

/// `Some(detail)` when the served leaf is none of the certificates on disk.
fn compare_with_disk(
    leaf: &CertificateDer<'_>,
    served: &LeafInfo,
    on_disk: &DiskCerts,
) -> Option<String> {
    if on_disk.certs.iter().any(|c| c.as_ref() == leaf.as_ref()) {
        return None;
    }
    let disk_leaf = on_disk.certs.first().and_then(|c| LeafInfo::parse(c).ok());
    let newer = disk_leaf
        .as_ref()
        .is_some_and(|d| d.not_after > served.not_after);
    Some(format!(
        "the served certificate (serial {}, expires {}) is not the one on disk ({}: {}){}",
        served.serial,
        date(served.not_after),
        on_disk.source,
        disk_leaf
            .map(|d| format!("serial {}, expires {}", d.serial, date(d.not_after)))
            .unwrap_or_else(|| "unreadable".into()),
        if newer {
            ": renewed on disk, reload the mail server (postfix reload, systemctl reload exim4)"
        } else {
            ": the listener serves another certificate than the configuration names; reload the mail server"
        }
    ))
}

/// The leaf's facts, from x509-parser.
struct LeafInfo {
    subject: String,
    issuer: String,
    serial: String,
    names: Vec<String>,
    not_before: Ts,
    not_after: Ts,
}

impl LeafInfo {
    fn parse(der: &CertificateDer<'_>) -> Result<LeafInfo, String> {
        let (_, cert) =
            x509_parser::parse_x509_certificate(der.as_ref()).map_err(|e| e.to_string())?;
        let mut names = Vec::new();
        if let Ok(Some(san)) = cert.subject_alternative_name() {
            for n in &san.value.general_names {
                match n {
                    x509_parser::extensions::GeneralName::DNSName(d) => names.push(d.to_string()),
                    x509_parser::extensions::GeneralName::IPAddress(b) => {
                        if let Ok(a) = <[u8; 4]>::try_from(*b) {
                            names.push(IpAddr::from(a).to_string());
                        } else if let Ok(a) = <[u8; 16]>::try_from(*b) {
                            names.push(IpAddr::from(a).to_string());
                        }
                    }
                    _ => {}
                }
            }
        }
        Ok(LeafInfo {
            subject: cert.subject().to_string(),
            issuer: cert.issuer().to_string(),
            serial: cert.tbs_certificate.raw_serial_as_string(),
            names,
            not_before: cert.validity().not_before.timestamp() as Ts,
            not_after: cert.validity().not_after.timestamp() as Ts,
        })
    }

    fn summary(&self) -> String {
        super::clean(
            &format!(
                "subject {}; names {}; issuer {}; serial {}; not after {}",
                self.subject,
                self.names.join(", "),
                self.issuer,
                self.serial,
                date(self.not_after)
            ),
            600,
        )
    }
}

fn days(secs: f64) -> String {
    let d = secs / 86_400.0;
    if d >= 2.0 {
        format!("{d:.0} days")
    } else {
        format!("{:.0} hours", secs / 3600.0)
    }
}

/// A Unix time as an RFC 3339 UTC date and time.
fn date(ts: Ts) -> String {
    let secs = ts.floor() as i64;
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Howard Hinnant's civil-from-days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_utc() {
        assert_eq!(date(0.0), "1970-01-01T00:00:00Z");
        assert_eq!(date(1_709_251_199.0), "2024-02-29T23:59:59Z");
        assert_eq!(date(951_782_400.0), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn an_address_target_is_verified_against_the_helo_name() {
        assert_eq!(
            show_name(&verify_name("127.0.0.1", Some("mail.example.org"))),
            "mail.example.org"
        );
        assert_eq!(show_name(&verify_name("127.0.0.1", None)), "127.0.0.1");
        assert_eq!(
            show_name(&verify_name("mx.example.org", Some("mail.example.org"))),
            "mx.example.org"
        );
    }

    #[test]
    fn remaining_time_reads_in_days_then_hours() {
        assert_eq!(days(14.0 * 86_400.0), "14 days");
        assert_eq!(days(36.0 * 3600.0), "36 hours");
    }
}
