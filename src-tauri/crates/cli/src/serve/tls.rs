//! TLS for the agent: the administrator's certificate, or a self-signed one made on
//! first start and kept, whose SHA-256 fingerprint the desktop pins (trust on first
//! use, like SSH host keys).

use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

pub struct Tls {
    pub config: Arc<rustls::ServerConfig>,
    /// SHA-256 of the leaf certificate (DER), as `AB:CD:…`.
    pub fingerprint: String,
    /// The certificate file, and whether the agent made it just now.
    pub cert_path: PathBuf,
    pub created: bool,
}

/// Loads `cert`/`key`, or — when none are given — the self-signed pair in `dir`, made
/// now if it is not there yet.
pub fn load(given: Option<(&Path, &Path)>, dir: &Path) -> Result<Tls, String> {
    let (cert_path, key_path, created) = match given {
        Some((c, k)) => (c.to_path_buf(), k.to_path_buf(), false),
        None => {
            let c = dir.join("cert.pem");
            let k = dir.join("key.pem");
            let created = if c.exists() && k.exists() {
                false
            } else {
                make_self_signed(&c, &k)?;
                true
            };
            (c, k, created)
        }
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&cert_path)
        .and_then(|i| i.collect::<Result<_, _>>())
        .map_err(|e| format!("cannot read the certificate {}: {e}", cert_path.display()))?;
    let Some(leaf) = certs.first() else {
        return Err(format!("{} holds no certificate", cert_path.display()));
    };
    let fingerprint = fingerprint(leaf.as_ref());
    let key = PrivateKeyDer::from_pem_file(&key_path)
        .map_err(|e| format!("cannot read the key {}: {e}", key_path.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup: {e}"))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| format!("{} and {}: {e}", cert_path.display(), key_path.display()))?;
    Ok(Tls {
        config: Arc::new(config),
        fingerprint,
        cert_path,
        created,
    })
}

/// `AB:CD:…`: the engine's SHA-256 fingerprint, as the agent prints it and the
/// desktop pins it.
pub fn fingerprint(der: &[u8]) -> String {
    headroom_engine::config::display_fingerprint(&headroom_engine::fleet::fingerprint(der))
}

fn make_self_signed(cert: &Path, key: &Path) -> Result<(), String> {
    let host = crate::serve::hostname();
    let mut names = vec![host, "localhost".to_string()];
    names.dedup();
    let made = rcgen::generate_simple_self_signed(names)
        .map_err(|e| format!("cannot make a self-signed certificate: {e}"))?;
    if let Some(dir) = cert.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    write_private(key, made.signing_key.serialize_pem().as_bytes())?;
    std::fs::write(cert, made.cert.pem())
        .map_err(|e| format!("cannot write {}: {e}", cert.display()))
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), String> {
    use std::io::Write;
    let _ = std::fs::remove_file(path);
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .and_then(|mut f| f.write_all(bytes))
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_self_signed_certificate_is_made_once_and_its_fingerprint_is_stable() {
        let dir = std::env::temp_dir().join(format!("headroom-tls-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let first = load(None, &dir).unwrap_or_else(|e| panic!("{e}"));
        assert!(first.created);
        let again = load(None, &dir).unwrap_or_else(|e| panic!("{e}"));
        assert!(!again.created);
        assert_eq!(first.fingerprint, again.fingerprint);
        // The fingerprint is SHA-256 of the certificate as served (DER).
        let der =
            CertificateDer::from_pem_file(dir.join("cert.pem")).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(fingerprint(der.as_ref()), first.fingerprint);
        assert_eq!(first.fingerprint.len(), 32 * 3 - 1);
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join("key.pem")).map(|m| m.permissions().mode() & 0o777);
        assert_eq!(mode.ok(), Some(0o600));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
