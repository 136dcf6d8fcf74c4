//! What the checks are about, when the configuration does not say: our outbound
//! addresses (Postfix `smtp_bind_address`/`smtp_bind_address6`, Exim's smtp
//! transports' `interface`, else the source address of the default routes; none when
//! Postfix hands all mail to a `relayhost`), the HELO name (`smtp_helo_name`, Exim
//! `primary_hostname`) and the sending domains (`mydomain`, Exim `qualify_domain`).
//! The mail server is read through [`MtaSettings`] (engine tests fake it).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, UdpSocket};

use super::addrs::is_public;
use crate::config::Config;
use crate::mta::exim_list::exim_interfaces;
use crate::mta::settings::{Flavor, Mta, MtaSettings};

/// What the checks look at, with why a part is missing.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Subjects {
    pub outbound: Vec<IpAddr>,
    /// Why `outbound` is empty or partial (an address behind NAT, no default route).
    pub outbound_note: Option<String>,
    pub helo: Option<String>,
    pub domains: Vec<String>,
    pub domains_note: Option<String>,
}

impl Subjects {
    /// The configured values, with the MTA's settings and the routing table filling in
    /// what the configuration leaves out.
    pub async fn discover(cfg: &Config) -> Subjects {
        let mta = Mta::from_config(&cfg.mta);
        Subjects::discover_with(cfg, mta.as_ref(), route_sources).await
    }

    /// [`Subjects::discover`] with this mail server and this routing table.
    pub async fn discover_with<M: MtaSettings>(
        cfg: &Config,
        mta: Option<&M>,
        routes: fn() -> (Vec<IpAddr>, Option<String>),
    ) -> Subjects {
        let d = &cfg.dns;
        let mut s = Subjects {
            outbound: d.outbound.clone(),
            helo: d.helo.clone(),
            domains: d.domains.clone(),
            ..Subjects::default()
        };
        let needs_mta = s.outbound.is_empty() || s.helo.is_none() || s.domains.is_empty();
        let settings = match mta.filter(|_| needs_mta) {
            Some(m) if m.flavor() == Flavor::Postfix => m
                .settings(&[
                    "smtp_bind_address",
                    "smtp_bind_address6",
                    "smtp_helo_name",
                    "myhostname",
                    "mydomain",
                    "relayhost",
                ])
                .await
                .ok(),
            Some(m) => m
                .settings(&["primary_hostname", "qualify_domain"])
                .await
                .ok(),
            None => None,
        }
        .unwrap_or_default();
        let get = |name: &str| settings.get(name).filter(|v| !v.is_empty()).cloned();
        if s.helo.is_none() {
            s.helo = get("smtp_helo_name")
                .or_else(|| get("myhostname"))
                .or_else(|| get("primary_hostname"))
                .filter(|h| h.contains('.'));
        }
        if s.domains.is_empty() {
            match get("mydomain").or_else(|| get("qualify_domain")) {
                Some(dom) if dom.contains('.') && dom != "localdomain" => s.domains.push(dom),
                _ => {
                    s.domains_note = Some(
                        "no sending domain: set [dns] domains (Postfix mydomain is not a public domain here)"
                            .into(),
                    )
                }
            }
        }
        if s.outbound.is_empty() {
            let (addrs, note) = match get("relayhost") {
                // Receivers see the relay's address: this host's is nobody's business.
                Some(relay) => (
                    Vec::new(),
                    Some(format!(
                        "mail leaves through relayhost {relay}: receivers and blocklists see the relay's address, not this host's; check the relay, or set [dns] outbound if some mail goes out directly"
                    )),
                ),
                None => {
                    let mut bound: Vec<IpAddr> = ["smtp_bind_address", "smtp_bind_address6"]
                        .iter()
                        .filter_map(|n| get(n)?.parse().ok())
                        .collect();
                    let mut note = None;
                    if let Some(m) = mta.filter(|m| m.flavor() == Flavor::Exim) {
                        if let Ok(text) = m.transports().await {
                            let (addrs, expanded) = exim_interfaces(&text);
                            bound = addrs;
                            if bound.is_empty() && !expanded.is_empty() {
                                note = Some(format!(
                                    "Exim transport {} picks its interface per message (an expansion): set [dns] outbound",
                                    expanded.join(", ")
                                ));
                            }
                        }
                    }
                    if bound.is_empty() {
                        let (addrs, route_note) = routes();
                        (addrs, note.or(route_note))
                    } else {
                        public_only(bound)
                    }
                }
            };
            s.outbound = addrs;
            s.outbound_note = note;
        }
        s
    }
}

/// The public ones of addresses the MTA binds to, with a note naming the others: a
/// blocklist knows only the public address a NAT sends from.
fn public_only(addrs: Vec<IpAddr>) -> (Vec<IpAddr>, Option<String>) {
    let (public, private): (Vec<IpAddr>, Vec<IpAddr>) =
        addrs.into_iter().partition(|ip| is_public(*ip));
    let note = (!private.is_empty()).then(|| {
        let (which, what) = if private.len() == 1 {
            ("is", "a public address")
        } else {
            ("are", "public addresses")
        };
        format!(
            "mail leaves from {}, which {which} not {what} (behind NAT?): set [dns] outbound to the public address receivers see",
            private.iter().map(IpAddr::to_string).collect::<Vec<_>>().join(", ")
        )
    });
    (public, note)
}

/// The source addresses the kernel would pick for the default IPv4 and IPv6 routes
/// (a UDP "connect" sends nothing). Private addresses are left out with a note: a
/// blocklist knows only the public address a NAT sends from.
fn route_sources() -> (Vec<IpAddr>, Option<String>) {
    let mut found = Vec::new();
    for (bind, to) in [
        (
            IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)),
        ),
        (
            IpAddr::V6(Ipv6Addr::UNSPECIFIED),
            IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1)),
        ),
    ] {
        let Ok(sock) = UdpSocket::bind((bind, 0)) else {
            continue;
        };
        if sock.connect((to, 25)).is_err() {
            continue;
        }
        if let Ok(local) = sock.local_addr() {
            found.push(local.ip());
        }
    }
    if found.is_empty() {
        return (
            Vec::new(),
            Some("no outbound address: no default route here; set [dns] outbound".into()),
        );
    }
    public_only(found)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::mta::exim_list::tests::EXIM_TRANSPORTS;
    use crate::mta::MtaError;

    /// A mail server answering from a table.
    struct FakeMta {
        flavor: Flavor,
        settings: Vec<(&'static str, &'static str)>,
        transports: &'static str,
    }

    impl MtaSettings for FakeMta {
        fn flavor(&self) -> Flavor {
            self.flavor
        }

        async fn settings(&self, names: &[&str]) -> Result<BTreeMap<String, String>, MtaError> {
            Ok(self
                .settings
                .iter()
                .filter(|(k, _)| names.contains(k))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect())
        }

        async fn transports(&self) -> Result<String, MtaError> {
            Ok(self.transports.to_string())
        }
    }

    fn routes() -> (Vec<IpAddr>, Option<String>) {
        (vec!["203.0.114.99".parse().expect("ip")], None)
    }

    fn no_routes() -> (Vec<IpAddr>, Option<String>) {
        panic!("the routing table is not asked when the MTA names its addresses")
    }

    fn ips(list: &[&str]) -> Vec<IpAddr> {
        list.iter().map(|a| a.parse().expect("ip")).collect()
    }

    fn exim(transports: &'static str) -> FakeMta {
        FakeMta {
            flavor: Flavor::Exim,
            settings: vec![
                ("primary_hostname", "mail.example.org"),
                ("qualify_domain", "example.org"),
            ],
            transports,
        }
    }

    #[tokio::test]
    async fn exim_sends_from_its_transports_interface_else_from_the_default_route() {
        let cfg = Config::default();
        let s = Subjects::discover_with(&cfg, Some(&exim(EXIM_TRANSPORTS)), no_routes).await;
        assert_eq!(s.outbound, ips(&["203.0.114.7", "2a00:1450::7"]));
        assert_eq!(s.outbound_note, None);
        assert_eq!(s.helo.as_deref(), Some("mail.example.org"));
        assert_eq!(s.domains, ["example.org"]);

        let plain = "remote_smtp transport:\ndriver = smtp\ninterface = \n";
        let s = Subjects::discover_with(&cfg, Some(&exim(plain)), routes).await;
        assert_eq!(s.outbound, ips(&["203.0.114.99"]));

        let per_message = "remote_smtp transport:\ndriver = smtp\ninterface = ${lookup{$sender_address_domain}lsearch{/etc/exim4/ips}}\n";
        let s = Subjects::discover_with(&cfg, Some(&exim(per_message)), routes).await;
        assert_eq!(s.outbound, ips(&["203.0.114.99"]));
        assert!(
            s.outbound_note
                .as_deref()
                .is_some_and(|n| n.contains("remote_smtp")),
            "{s:?}"
        );
    }

    #[tokio::test]
    async fn postfix_binds_public_addresses_and_a_relayhost_means_none_of_ours() {
        let cfg = Config::default();
        let postfix = |settings: Vec<(&'static str, &'static str)>| FakeMta {
            flavor: Flavor::Postfix,
            settings,
            transports: "",
        };
        let m = postfix(vec![
            ("smtp_bind_address", "203.0.114.7"),
            ("smtp_bind_address6", "fd00::7"),
            ("myhostname", "mail.example.org"),
            ("mydomain", "example.org"),
        ]);
        let s = Subjects::discover_with(&cfg, Some(&m), no_routes).await;
        assert_eq!(s.outbound, ips(&["203.0.114.7"]));
        assert!(
            s.outbound_note
                .as_deref()
                .is_some_and(|n| n.contains("fd00::7")),
            "{s:?}"
        );
        let m = postfix(vec![
            ("relayhost", "[smtp.provider.example]:587"),
            ("myhostname", "laptop.example.org"),
        ]);
        let s = Subjects::discover_with(&cfg, Some(&m), no_routes).await;
        assert!(s.outbound.is_empty());
        assert!(
            s.outbound_note
                .as_deref()
                .is_some_and(|n| n.contains("relayhost [smtp.provider.example]:587")),
            "{s:?}"
        );
        // Configured addresses win over everything.
        let mut cfg = Config::default();
        cfg.dns.outbound = ips(&["192.0.2.7"]);
        let s = Subjects::discover_with(&cfg, Some(&m), no_routes).await;
        assert_eq!(s.outbound, ips(&["192.0.2.7"]));
    }
}
