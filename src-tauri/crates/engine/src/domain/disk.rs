//! The certificates the mail server is configured to serve, read from disk: Postfix
//! `smtpd_tls_chain_files` (or `smtpd_tls_cert_file`, `…_eccert_file`,
//! `…_dcert_file`), with a master.cf service's `-o` overrides for the listener's
//! port, and Exim `tls_certificate`. When the listener serves none of them, the files
//! were renewed and the server not reloaded.

use std::io::Read;
use std::path::{Path, PathBuf};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;

use crate::mta::exim_list::exim_list;
use crate::mta::postfix;
use crate::mta::settings::Mta;

/// Largest certificate file read: a chain of a few certificates is a few KiB.
const MAX_FILE: u64 = 1024 * 1024;

const POSTFIX_PARAMS: [&str; 4] = [
    "smtpd_tls_chain_files",
    "smtpd_tls_cert_file",
    "smtpd_tls_eccert_file",
    "smtpd_tls_dcert_file",
];

/// The certificates on disk for one listener.
#[derive(Debug, Clone)]
pub struct DiskCerts {
    /// Where they came from: "smtpd_tls_chain_files = /etc/…" or "tls_certificate = …".
    pub source: String,
    pub files: Vec<PathBuf>,
    pub certs: Vec<CertificateDer<'static>>,
}

/// The certificates the MTA is configured with for its listener on `port`. `Ok(None)`
/// when it has none configured (no TLS, or an Exim path that expands per connection).
pub async fn configured(mta: &Mta, port: u16) -> Result<Option<DiskCerts>, String> {
    let (source, files) = match mta {
        Mta::Postfix { .. } => {
            let main = mta
                .settings(&POSTFIX_PARAMS)
                .await
                .map_err(|e| e.to_string())?;
            let overrides = service_overrides(mta, port).await?;
            // A service's -o value replaces main.cf's for that parameter only.
            let value = |name: &str| {
                overrides
                    .iter()
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| v)
                    .or_else(|| main.get(name))
                    .cloned()
                    .unwrap_or_default()
            };
            let chain = value("smtpd_tls_chain_files");
            if !chain.is_empty() {
                (
                    format!("smtpd_tls_chain_files = {chain}"),
                    split_list(&chain),
                )
            } else {
                let mut files = Vec::new();
                let mut shown = Vec::new();
                for p in &POSTFIX_PARAMS[1..] {
                    let v = value(p);
                    if !v.is_empty() {
                        shown.push(format!("{p} = {v}"));
                        files.extend(split_list(&v));
                    }
                }
                (shown.join(", "), files)
            }
        }
        Mta::Exim { .. } => {
            let v = mta
                .settings(&["tls_certificate"])
                .await
                .map_err(|e| e.to_string())?
                .remove("tls_certificate")
                .unwrap_or_default();
            if v.contains('$') {
                // Expanded per connection (SNI): there is no one file to compare with.
                return Ok(None);
            }
            (format!("tls_certificate = {v}"), split_exim_list(&v))
        }
    };
    if files.is_empty() {
        return Ok(None);
    }
    let mut certs = Vec::new();
    for f in &files {
        certs.extend(read_certs(f)?);
    }
    Ok(Some(DiskCerts {
        source,
        files,
        certs,
    }))
}

/// The `-o` overrides of the certificate parameters in the master.cf inet services
/// listening on `port` (`postconf -P`: `service/type/parameter = value`).
async fn service_overrides(mta: &Mta, port: u16) -> Result<Vec<(String, String)>, String> {
    Ok(mta
        .service_overrides()
        .await
        .map_err(|e| e.to_string())?
        .into_iter()
        .filter_map(|(key, value)| {
            let mut parts = key.splitn(3, '/');
            let (service, kind, param) = (parts.next()?, parts.next()?, parts.next()?);
            (kind == "inet"
                && postfix::endpoint(service).1 == Some(port)
                && POSTFIX_PARAMS.contains(&param))
            .then(|| (param.to_string(), value))
        })
        .collect())
}

/// Postfix lists: separated by commas or white space.
fn split_list(v: &str) -> Vec<PathBuf> {
    v.split([',', ' ', '\t'])
        .filter(|s| !s.is_empty())
        .map(PathBuf::from)
        .collect()
}

/// Exim lists (several certificates for several key types), read as Exim reads any
/// list: see [`exim_list`].
fn split_exim_list(v: &str) -> Vec<PathBuf> {
    exim_list(v).into_iter().map(PathBuf::from).collect()
}

/// The certificates in a PEM file (keys in the same file are skipped).
pub fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let bad = |why: String| format!("cannot read the certificate file {}: {why}", path.display());
    let file = std::fs::File::open(path).map_err(|e| bad(e.to_string()))?;
    let meta = file.metadata().map_err(|e| bad(e.to_string()))?;
    if !meta.is_file() {
        return Err(bad("not a regular file".into()));
    }
    let mut pem = Vec::new();
    file.take(MAX_FILE + 1)
        .read_to_end(&mut pem)
        .map_err(|e| bad(e.to_string()))?;
    if pem.len() as u64 > MAX_FILE {
        return Err(bad(format!("larger than {MAX_FILE} bytes")));
    }
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(e.to_string()))?;
    if certs.is_empty() {
        return Err(bad("no certificate in it".into()));
    }
    Ok(certs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_split_as_each_mta_writes_them() {
        assert_eq!(
            split_list("/etc/k.pem, /etc/c.pem /etc/e.pem"),
            ["/etc/k.pem", "/etc/c.pem", "/etc/e.pem"].map(PathBuf::from)
        );
        assert_eq!(
            split_exim_list("/etc/exim4/rsa.crt : /etc/exim4/ec.crt"),
            ["/etc/exim4/rsa.crt", "/etc/exim4/ec.crt"].map(PathBuf::from)
        );
    }

    #[test]
    fn a_file_without_certificates_is_an_error_that_names_it() {
        let dir = tempfile::tempdir().expect("tmp");
        let p = dir.path().join("key.pem");
        std::fs::write(
            &p,
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
        )
        .expect("write");
        let e = read_certs(&p).expect_err("no certificate");
        assert!(e.contains("key.pem") && e.contains("no certificate"), "{e}");
        let e = read_certs(Path::new("/nonexistent/cert.pem")).expect_err("missing");
        assert!(e.contains("/nonexistent/cert.pem"), "{e}");
    }
}
