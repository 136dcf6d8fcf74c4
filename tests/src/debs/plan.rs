//! Which packages to install so that packages unpacked with `dpkg -x` can run: their
//! `Depends`/`Pre-Depends` groups that neither the unpacked set nor the installed
//! system satisfies, each resolved to one installable alternative. Pure functions over
//! control data, so the choice can be tested without apt.

use std::collections::{BTreeMap, BTreeSet};

use super::control::{parse_relations, Dep, Fields, Relations};

/// The virtual package every MTA provides: a second one would replace Postfix.
const MTA: &str = "mail-transport-agent";

/// What a package says about itself: from a .deb (`dpkg-deb -f`), the installed
/// database (`dpkg-query -W`) or the archive (`apt-cache show`).
#[derive(Clone, Debug)]
pub struct Control {
    pub package: String,
    pub source: String,
    pub version: String,
    pub provides: Vec<Dep>,
    pub depends: Relations,
}

impl Control {
    pub fn from_fields(f: &Fields) -> Result<Control, String> {
        let package = f
            .get("Package")
            .filter(|p| !p.is_empty())
            .ok_or("a control stanza without a Package field")?
            .clone();
        let context = |e: String| format!("{package}: {e}");
        let field = |k: &str| f.get(k).map(String::as_str).unwrap_or_default();
        let mut depends = parse_relations(field("Pre-Depends")).map_err(context)?;
        depends.extend(parse_relations(field("Depends")).map_err(context)?);
        let provides = parse_relations(field("Provides"))
            .map_err(context)?
            .into_iter()
            .flatten()
            .collect();
        // `Source: name (version)` when the binary was rebuilt alone; absent when the
        // source has the binary's name.
        let source = field("Source")
            .split_whitespace()
            .next()
            .unwrap_or(&package)
            .to_string();
        Ok(Control {
            source,
            version: field("Version").to_string(),
            provides,
            depends,
            package,
        })
    }
}

/// Package names (real and provided) mapped to the versions they come in; `None` for
/// an unversioned provide.
#[derive(Default)]
pub struct Available(BTreeMap<String, Vec<Option<String>>>);

impl Available {
    pub fn of<'a>(packages: impl IntoIterator<Item = &'a Control>) -> Available {
        let mut a = Available::default();
        for c in packages {
            a.add(&c.package, Some(c.version.clone()));
            for p in &c.provides {
                a.add(&p.name, p.version.as_ref().map(|(_, v)| v.clone()));
            }
        }
        a
    }

    fn add(&mut self, name: &str, version: Option<String>) {
        self.0.entry(name.to_string()).or_default().push(version);
    }

    pub fn satisfies(&self, d: &Dep) -> bool {
        self.0
            .get(&d.name)
            .is_some_and(|vs| vs.iter().any(|v| d.accepts(v.as_deref())))
    }
}

/// A dependency group nobody satisfies yet, and which unpacked package needs it.
#[derive(Clone, Debug, PartialEq)]
pub struct Unmet {
    pub needed_by: String,
    pub group: Vec<Dep>,
}

impl Unmet {
    fn describe(&self) -> String {
        let alternatives: Vec<String> = self.group.iter().map(Dep::to_string).collect();
        format!(
            "{} (needed by {})",
            alternatives.join(" | "),
            self.needed_by
        )
    }
}

/// The groups of the unpacked set's dependencies that neither the set itself (an
/// unpacked exim4-base satisfies exim4-daemon-light's `exim4-base`) nor the installed
/// system satisfies, first occurrence only.
pub fn unmet(unpacked: &[Control], installed: &Available) -> Vec<Unmet> {
    let own = Available::of(unpacked);
    let mut out: Vec<Unmet> = Vec::new();
    for c in unpacked {
        for group in &c.depends {
            let met = group
                .iter()
                .any(|d| own.satisfies(d) || installed.satisfies(d));
            if !met && !out.iter().any(|u| &u.group == group) {
                out.push(Unmet {
                    needed_by: c.package.clone(),
                    group: group.clone(),
                });
            }
        }
    }
    out
}

/// What to install, and the groups left out on purpose with the reason.
#[derive(Debug, Default, PartialEq)]
pub struct Plan {
    pub install: BTreeSet<String>,
    pub left_out: Vec<String>,
}

/// Resolves each unmet group to its first alternative that apt can install
/// (`candidates`, from `apt-cache show`) and that is not part of a mail server: not
/// from the source of an unpacked package (sendmail-bin's `sendmail-base` would run
/// the MTA's maintainer scripts; the harness unpacks what it needs) and not a provider
/// of `mail-transport-agent` (it would replace Postfix). A group with no such
/// alternative is left out when every alternative was one of those; when apt knows
/// none of them, or none in a version that satisfies the relation, it is an error.
pub fn choose(
    unmet: &[Unmet],
    candidates: &BTreeMap<String, Control>,
    unpacked: &[Control],
) -> Result<Plan, String> {
    let sources: BTreeSet<&str> = unpacked.iter().map(|c| c.source.as_str()).collect();
    let mut plan = Plan::default();
    for u in unmet {
        let mut mail_server = Vec::new();
        let pick = u.group.iter().find(|d| {
            let Some(c) = candidates.get(&d.name) else {
                return false; // virtual, or unknown to apt
            };
            if sources.contains(c.source.as_str()) || c.provides.iter().any(|p| p.name == MTA) {
                mail_server.push(d.name.clone());
                return false;
            }
            d.accepts(Some(&c.version))
        });
        match pick {
            Some(d) => {
                plan.install.insert(d.name.clone());
            }
            None if !mail_server.is_empty() => plan.left_out.push(format!(
                "{}: part of a mail server ({})",
                u.describe(),
                mail_server.join(", ")
            )),
            None => {
                return Err(format!(
                    "no installable package for {}: apt knows no candidate that satisfies it \
                     (apt-get update?)",
                    u.describe()
                ))
            }
        }
    }
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::debs::control::parse_stanzas;

    fn controls(text: &str) -> Vec<Control> {
        parse_stanzas(text)
            .iter()
            .map(|f| Control::from_fields(f).expect("control"))
            .collect()
    }

    /// The Debian 12 control data of the packages the Sendmail harness unpacks.
    const SENDMAIL: &str = "\
Package: sendmail-bin
Source: sendmail
Version: 8.17.1.9-2+deb12u2
Provides: mail-transport-agent
Pre-Depends: debconf, init-system-helpers (>= 1.54~)
Depends: sendmail-base (= 8.17.1.9-2+deb12u2), sendmail-cf (= 8.17.1.9-2+deb12u2), procps,
 libc6 (>= 2.34), libdb5.3, libwrap0 (>= 7.6-4~)

Package: sendmail-cf
Source: sendmail
Version: 8.17.1.9-2+deb12u2
Depends: m4
";

    const INSTALLED: &str = "\
Package: debconf
Version: 1.5.82

Package: init-system-helpers
Version: 1.65.2

Package: procps
Version: 2:4.0.2-3

Package: libc6
Version: 2.36-9+deb12u10

Package: libdb5.3
Version: 5.3.28+dfsg2-1

Package: m4
Version: 1.4.19-3

Package: postfix
Version: 3.7.11-0+deb12u1
Provides: default-mta, mail-transport-agent
";

    const ARCHIVE: &str = "\
Package: sendmail-base
Source: sendmail
Version: 8.17.1.9-2+deb12u2

Package: libwrap0
Source: tcp-wrappers
Version: 7.6.q-32

Package: libidn12
Source: libidn
Version: 1.41-1

Package: exim4-daemon-light
Source: exim4
Version: 4.96-15+deb12u11
Provides: default-mta, mail-transport-agent
";

    fn archive() -> BTreeMap<String, Control> {
        controls(ARCHIVE)
            .into_iter()
            .map(|c| (c.package.clone(), c))
            .collect()
    }

    #[test]
    fn sendmail_needs_libwrap0_and_not_the_rest_of_sendmail() {
        let set = controls(SENDMAIL);
        let installed = Available::of(&controls(INSTALLED));
        let u = unmet(&set, &installed);
        let names: Vec<&str> = u.iter().map(|u| u.group[0].name.as_str()).collect();
        assert_eq!(
            names,
            ["sendmail-base", "libwrap0"],
            "sendmail-cf is unpacked"
        );
        let plan = choose(&u, &archive(), &set).expect("plan");
        assert_eq!(plan.install, BTreeSet::from(["libwrap0".to_string()]));
        assert_eq!(plan.left_out.len(), 1);
        assert!(
            plan.left_out[0].starts_with("sendmail-base (= 8.17.1.9-2+deb12u2) (needed by sendmail-bin): part of a mail server"),
            "{:?}",
            plan.left_out
        );
    }

    #[test]
    fn nothing_is_installed_when_everything_is_met() {
        let set = controls("Package: a\nVersion: 1\nDepends: libc6 (>= 2.34), m4\n");
        let installed = Available::of(&controls(INSTALLED));
        assert_eq!(unmet(&set, &installed), vec![]);
    }

    #[test]
    fn a_too_old_installed_version_is_unmet() {
        let set = controls("Package: a\nVersion: 1\nDepends: libc6 (>= 2.40)\n");
        let installed = Available::of(&controls(INSTALLED));
        assert_eq!(unmet(&set, &installed)[0].group[0].name, "libc6");
    }

    #[test]
    fn versioned_and_unversioned_provides_count_as_the_relation_allows() {
        let installed = Available::of(&controls(
            "Package: sysvinit-utils\nVersion: 3.06-4\nProvides: lsb-base (= 11.1.0)\n\n\
             Package: debconf\nVersion: 1.5.82\nProvides: debconf-2.0\n",
        ));
        let set = controls(
            "Package: a\nVersion: 1\nDepends: lsb-base (>= 3.0-6), debconf-2.0, debconf-2.0 (>= 1)\n",
        );
        let u = unmet(&set, &installed);
        assert_eq!(u.len(), 1, "{u:?}");
        assert_eq!(u[0].group[0].to_string(), "debconf-2.0 (>= 1)");
    }

    #[test]
    fn alternatives_met_by_the_set_or_the_system_are_met() {
        let set = controls(
            "Package: exim4-base\nVersion: 4.96\n\
             Depends: exim4-config (>= 4.94) | exim4-config-2, cron | cron-daemon | systemd-sysv\n\n\
             Package: exim4-config\nVersion: 4.96\nProvides: exim4-config-2\n",
        );
        let installed = Available::of(&controls("Package: systemd-sysv\nVersion: 252\n"));
        assert_eq!(unmet(&set, &installed), vec![]);
    }

    #[test]
    fn the_first_installable_alternative_is_chosen_and_an_mta_never_is() {
        let set = controls("Package: x\nSource: xs\nVersion: 1\nDepends: mail-transport-agent | exim4-daemon-light | libidn12, libwrap0 (>= 8)\n");
        let u = unmet(&set, &Available::default());
        let e = choose(&u, &archive(), &set).expect_err("libwrap0 8 does not exist");
        assert!(e.contains("libwrap0 (>= 8) (needed by x)"), "{e}");
        let plan = choose(&u[..1], &archive(), &set).expect("plan");
        assert_eq!(plan.install, BTreeSet::from(["libidn12".to_string()]));
        assert!(plan.left_out.is_empty());
    }

    #[test]
    fn a_group_of_only_mail_servers_is_left_out_not_installed() {
        let set = controls(
            "Package: x\nVersion: 1\nDepends: exim4-daemon-light | mail-transport-agent\n",
        );
        let plan = choose(&unmet(&set, &Available::default()), &archive(), &set).expect("plan");
        assert!(plan.install.is_empty());
        assert!(plan.left_out[0].contains("part of a mail server (exim4-daemon-light)"));
    }

    #[test]
    fn a_group_apt_does_not_know_is_an_error() {
        let set = controls("Package: x\nVersion: 1\nDepends: libnothing1 | virtual-thing\n");
        let e = choose(&unmet(&set, &Available::default()), &archive(), &set).expect_err("unknown");
        assert!(
            e.contains("libnothing1 | virtual-thing (needed by x)"),
            "{e}"
        );
    }

    #[test]
    fn a_malformed_field_names_the_package() {
        let f = &parse_stanzas("Package: x\nDepends: libc6 (>= \n")[0];
        let e = Control::from_fields(f).expect_err("bad");
        assert!(e.starts_with("x: bad relation `libc6 (>=`"), "{e}");
    }
}
