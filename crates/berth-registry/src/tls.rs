//! TLS for both sides: the server's certificate and key, and the client's
//! trust for a registry: the system's roots plus the CAs and client
//! certificate in `<certs-dir>/<host[:port]>/` (the layout of Docker's
//! `/etc/docker/certs.d`: `*.crt` are CAs, `*.cert` + `*.key` a client pair).
//!
//! The ring provider is named explicitly so that another crate switching on
//! rustls' aws-lc-rs cannot make the process default ambiguous.

use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, ServerConfig, SignatureScheme};

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

pub fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs: Vec<_> = CertificateDer::pem_file_iter(path)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("certificate {}: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!(
            "certificate {}: no certificate in it",
            path.display()
        ));
    }
    Ok(certs)
}

pub fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, String> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| format!("key {}: {e}", path.display()))
}

/// The server's configuration from a PEM certificate chain and key. With
/// client CAs, every client must present a certificate one of them signed.
pub fn server_config(
    cert: &Path,
    key: &Path,
    client_cas: &[std::path::PathBuf],
) -> Result<Arc<ServerConfig>, String> {
    let builder = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?;
    let builder = if client_cas.is_empty() {
        builder.with_no_client_auth()
    } else {
        let mut roots = RootCertStore::empty();
        for ca in client_cas {
            for c in load_certs(ca)? {
                roots
                    .add(c)
                    .map_err(|e| format!("client CA {}: {e}", ca.display()))?;
            }
        }
        let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
            Arc::new(roots),
            provider(),
        )
        .build()
        .map_err(|e| format!("client CAs: {e}"))?;
        builder.with_client_cert_verifier(verifier)
    };
    let mut cfg = builder
        .with_single_cert(load_certs(cert)?, load_key(key)?)
        .map_err(|e| {
            format!(
                "certificate {} and key {}: {e}",
                cert.display(),
                key.display()
            )
        })?;
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(cfg))
}

/// The client's configuration for one registry. `verify: false` is for
/// insecure registries: any certificate is accepted, as dockerd does.
pub fn client_config(
    certs_dir: Option<&Path>,
    registry: &str,
    verify: bool,
) -> Result<ClientConfig, String> {
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?;
    let dir = certs_dir.map(|d| d.join(registry)).filter(|d| d.is_dir());
    let mut files: Vec<std::path::PathBuf> = dir
        .as_ref()
        .and_then(|d| std::fs::read_dir(d).ok())
        .map(|rd| rd.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    files.sort();
    let with_ext = |ext: &str| -> Vec<&std::path::PathBuf> {
        files
            .iter()
            .filter(|p| p.extension().is_some_and(|e| e == ext))
            .collect()
    };
    let builder = if verify {
        let mut roots = RootCertStore::empty();
        // The system's roots (Debian: /etc/ssl/certs); having none is no error.
        roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
        for ca in with_ext("crt") {
            for c in load_certs(ca)? {
                roots
                    .add(c)
                    .map_err(|e| format!("CA {}: {e}", ca.display()))?;
            }
        }
        builder.with_root_certificates(roots)
    } else {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider())))
    };
    // hyper-rustls sets the ALPN protocols itself.
    match with_ext("cert").first() {
        Some(cert) => {
            let key = cert.with_extension("key");
            builder
                .with_client_auth_cert(load_certs(cert)?, load_key(&key)?)
                .map_err(|e| format!("client certificate {}: {e}", cert.display()))
        }
        None => Ok(builder.with_no_client_auth()),
    }
}

/// Accepts any server certificate (insecure registries only), still checking
/// that the handshake is signed by the key the certificate names.
#[derive(Debug)]
struct AnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
