//! TLS to an agent: the certificate is trusted because its SHA-256 fingerprint is the
//! one pinned in `[[server]] fingerprint` (trust on first use, like SSH host keys), not
//! because a CA signed it (the agent makes its own). The handshake's signatures are
//! still checked, so only the holder of the pinned certificate's key gets through.
//! What was served is kept, so a refusal can say which fingerprint to pin.

use std::sync::{Arc, Mutex};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use sha2::{Digest, Sha256};

/// Upper-case hex of SHA-256 over the certificate's DER, no separators.
pub fn fingerprint(der: &[u8]) -> String {
    Sha256::digest(der)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect()
}

#[derive(Debug)]
pub struct Pinned {
    /// `None`: nothing pinned yet, every certificate is refused (and recorded).
    pin: Option<String>,
    /// The fingerprint the server presented, for the error message.
    pub served: Arc<Mutex<Option<String>>>,
    provider: Arc<CryptoProvider>,
}

impl Pinned {
    pub fn new(pin: Option<String>) -> Self {
        Pinned {
            pin,
            served: Arc::new(Mutex::new(None)),
            provider: Arc::new(rustls::crypto::ring::default_provider()),
        }
    }
}

impl ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let got = fingerprint(end_entity.as_ref());
        *crate::lock::lock(&self.served) = Some(got.clone());
        match &self.pin {
            Some(p) if *p == got => Ok(ServerCertVerified::assertion()),
            _ => Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::ApplicationVerificationFailure,
            )),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// A client configuration that trusts exactly the pinned certificate.
pub fn client_config(verifier: Arc<Pinned>) -> Result<rustls::ClientConfig, rustls::Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth())
}
