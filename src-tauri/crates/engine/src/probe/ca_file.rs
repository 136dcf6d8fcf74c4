//! The CA file of a probe target (`ca_file`, `--ca-file`): read bounded, only from a
//! regular file, and checked to hold certificates that parse, so a bad file is an
//! error when the configuration loads, not when the first probe builds its TLS setup.

use std::io::Read;
use std::path::Path;

use lettre::transport::smtp::client::{Certificate, CertificateStore, TlsParameters};

use super::ProbeError;

/// Largest CA file read: a bundle of a few hundred certificates is far below it.
pub const MAX_CA_FILE_BYTES: u64 = 1024 * 1024;

/// Reads a CA file of bounded size that is a regular file, without blocking on a FIFO
/// or a device put in its place.
pub(super) fn read(path: &Path) -> Result<Certificate, ProbeError> {
    use rustix::fs::{Mode, OFlags};
    let bad = |why: String| ProbeError::CaFile(format!("{}: {why}", path.display()));
    let check = |meta: &std::fs::Metadata| {
        if !meta.is_file() {
            return Err(bad(
                "not a regular file (a PEM file of CA certificates is expected)".into(),
            ));
        }
        if meta.len() > MAX_CA_FILE_BYTES {
            return Err(bad(format!(
                "{} bytes; a CA file may have at most {MAX_CA_FILE_BYTES}",
                meta.len()
            )));
        }
        Ok(())
    };
    check(&std::fs::metadata(path).map_err(|e| bad(e.to_string()))?)?;
    // O_NONBLOCK: should the path turn into a FIFO after the check, open still returns.
    let fd = rustix::fs::open(
        path,
        OFlags::RDONLY | OFlags::NONBLOCK | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| bad(std::io::Error::from(e).to_string()))?;
    let file = std::fs::File::from(fd);
    check(&file.metadata().map_err(|e| bad(e.to_string()))?)?;
    let mut pem = Vec::new();
    file.take(MAX_CA_FILE_BYTES + 1)
        .read_to_end(&mut pem)
        .map_err(|e| bad(e.to_string()))?;
    if memchr::memmem::find(&pem, b"-----BEGIN CERTIFICATE-----").is_none() {
        return Err(bad(
            "no certificate in it (a PEM file with -----BEGIN CERTIFICATE----- blocks is expected)"
                .into(),
        ));
    }
    let cert = Certificate::from_pem(&pem).map_err(|e| bad(e.to_string()))?;
    // Each must parse as a certificate, or TLS setup would fail only at the first
    // probe. Without the system's roots this costs well under a millisecond.
    TlsParameters::builder("localhost".into())
        .certificate_store(CertificateStore::None)
        .add_root_certificate(cert.clone())
        .build_rustls()
        .map_err(|e| bad(format!("not a usable CA certificate: {e}")))?;
    Ok(cert)
}

/// A self-signed CA certificate (its key was thrown away) for tests that need a CA
/// file which passes [`read`]; nothing connects with it.
#[cfg(test)]
pub(crate) const TEST_CA_PEM: &str = include_str!("testdata/test-ca.pem");
