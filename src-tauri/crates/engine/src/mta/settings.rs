//! Settings asked for by name, on demand, for the domain checks: main.cf parameters
//! (`postconf -x NAME…`), master.cf services' `-o` overrides (`postconf -P -x`), Exim
//! options (`exim -bP NAME…`) and Exim's transports (`exim -bP transports`).
//!
//! Unlike the adapters' cached per-tick reads, each call runs the program again: the
//! checks ask every few minutes, for names the adapters do not read. The programs are
//! the ones the adapters find and run the same way ([`command::run`]: no shell, a
//! deadline, bounded output), on the blocking pool so the checks stay async.

use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

use crate::config::{MtaChoice, MtaConfig};
use crate::mta::{command, exim, postfix, CommandError, MtaError};

const TIMEOUT: Duration = Duration::from_secs(10);

/// The MTA whose settings fill in what `[dns]` leaves out.
#[derive(Debug, Clone, PartialEq)]
pub enum Mta {
    Postfix {
        postconf: PathBuf,
        /// Another instance's configuration directory (`postconf -c DIR`).
        config_dir: Option<PathBuf>,
    },
    Exim {
        binary: PathBuf,
        /// A configuration file other than the compiled-in one (`exim -C FILE`).
        config: Option<PathBuf>,
    },
}

/// Which mail server's settings these are: it decides which names are asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    Postfix,
    Exim,
}

impl Mta {
    /// The configured MTA (`[mta] kind`), or for `auto` the one installed here.
    pub fn from_config(c: &MtaConfig) -> Option<Mta> {
        let postfix = || {
            Some(Mta::Postfix {
                postconf: postfix::find_postconf()?,
                config_dir: c.config_dir.clone(),
            })
        };
        let exim = || {
            Some(Mta::Exim {
                binary: exim::find_exim()?,
                config: c.config_dir.clone().map(exim::config_file),
            })
        };
        match c.kind {
            MtaChoice::Postfix => postfix(),
            MtaChoice::Exim => exim(),
            MtaChoice::Auto => postfix().or_else(exim),
            MtaChoice::Opensmtpd | MtaChoice::Sendmail | MtaChoice::None => None,
        }
    }

    /// Values of main.cf parameters (`postconf -x`) or Exim options (`exim -bP`).
    pub async fn settings(&self, names: &[&str]) -> Result<BTreeMap<String, String>, MtaError> {
        let ask = match self {
            Mta::Postfix { .. } => "-x",
            Mta::Exim { .. } => "-bP",
        };
        let mut rest = vec![ask];
        rest.extend(names);
        let out = self.run(&rest).await?;
        Ok(command::name_values(&out).collect())
    }

    /// Postfix: the `-o` overrides of master.cf services (`postconf -P -x`), as
    /// `service/type/parameter = value` in master.cf order. Exim has none.
    pub async fn service_overrides(&self) -> Result<Vec<(String, String)>, MtaError> {
        match self {
            Mta::Postfix { .. } => {
                let out = self.run(&["-P", "-x"]).await?;
                Ok(command::name_values(&out).collect())
            }
            Mta::Exim { .. } => Ok(Vec::new()),
        }
    }

    /// `program [-c DIR | -C FILE] rest…` on the blocking pool; its stdout when it
    /// succeeded.
    async fn run(&self, rest: &[&str]) -> Result<String, MtaError> {
        let (program, instance) = match self {
            Mta::Postfix {
                postconf,
                config_dir,
            } => (postconf, config_dir.as_ref().map(|d| ("-c", d))),
            Mta::Exim { binary, config } => (binary, config.as_ref().map(|f| ("-C", f))),
        };
        let mut args: Vec<String> = Vec::new();
        if let Some((flag, path)) = instance {
            args.extend([flag.to_string(), path.display().to_string()]);
        }
        args.extend(rest.iter().map(|a| a.to_string()));
        let shown = format!("{} {}", program.display(), args.join(" "));
        let program = program.clone();
        let out = tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            command::run(&program, &args, TIMEOUT)
        })
        .await
        .map_err(|e| CommandError::Failed {
            command: shown.clone(),
            why: e.to_string(),
        })??;
        if !out.success() {
            return Err(CommandError::Failed {
                command: shown,
                why: out.error_line(),
            }
            .into());
        }
        Ok(out.stdout)
    }
}

/// What the checks read from the mail server. [`Mta`] runs `postconf` and `exim -bP`;
/// the engine tests answer from a table.
pub trait MtaSettings: Sync {
    fn flavor(&self) -> Flavor;
    /// `name = value` of these main settings (`postconf -x`, `exim -bP`).
    fn settings(
        &self,
        names: &[&str],
    ) -> impl Future<Output = Result<BTreeMap<String, String>, MtaError>> + Send;
    /// Exim: every transport with its options (`exim -bP transports`, read with
    /// [`crate::mta::exim_list::exim_interfaces`]). Postfix has none: empty.
    fn transports(&self) -> impl Future<Output = Result<String, MtaError>> + Send;
}

impl MtaSettings for Mta {
    fn flavor(&self) -> Flavor {
        match self {
            Mta::Postfix { .. } => Flavor::Postfix,
            Mta::Exim { .. } => Flavor::Exim,
        }
    }

    async fn settings(&self, names: &[&str]) -> Result<BTreeMap<String, String>, MtaError> {
        Mta::settings(self, names).await
    }

    async fn transports(&self) -> Result<String, MtaError> {
        match self {
            Mta::Exim { .. } => self.run(&["-bP", "transports"]).await,
            Mta::Postfix { .. } => Ok(String::new()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn postfix(postconf: &str) -> Mta {
        Mta::Postfix {
            postconf: PathBuf::from(postconf),
            config_dir: None,
        }
    }

    #[tokio::test]
    async fn a_command_that_fails_says_so_and_one_that_works_gives_its_output() {
        let dir = tempfile::tempdir().expect("tempdir");
        let fake = dir.path().join("postconf");
        std::fs::write(&fake, "#!/bin/sh\necho 'myhostname = mail.example.org'\n").expect("write");
        std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .expect("chmod");
        let got = postfix(&fake.display().to_string())
            .settings(&["myhostname"])
            .await
            .expect("the fake postconf runs");
        assert_eq!(
            got.get("myhostname").map(String::as_str),
            Some("mail.example.org")
        );
        let e = postfix("/bin/false")
            .settings(&["a"])
            .await
            .expect_err("false")
            .to_string();
        assert!(e.contains("/bin/false -x a failed"), "{e}");
        let e = postfix("/nonexistent/postconf")
            .settings(&["a"])
            .await
            .expect_err("missing")
            .to_string();
        assert!(e.contains("/nonexistent/postconf"), "{e}");
    }

    #[tokio::test]
    async fn the_instance_is_named_before_the_question() {
        let m = Mta::Exim {
            binary: PathBuf::from("/bin/echo"),
            config: Some(PathBuf::from("/etc/exim4/exim4.conf")),
        };
        let got = m.transports().await.expect("echo");
        assert_eq!(got.trim(), "-C /etc/exim4/exim4.conf -bP transports");
        assert!(postfix("/bin/echo")
            .transports()
            .await
            .expect("none")
            .is_empty());
    }
}
