//! TLS termination in the server (rustls with the `ring` provider): the certificate chain and key
//! come from `BOOKSTORE_TLS_CERT` and `BOOKSTORE_TLS_KEY` (PEM); ALPN offers `h2` and `http/1.1`.

use std::sync::Arc;

use anyhow::Context;
use axum_server::tls_rustls::RustlsConfig;
use rustls::pki_types::{pem::PemObject, CertificateDer, PrivateKeyDer};

/// Reads the PEM files and builds the server configuration (TLS 1.2 and 1.3, safe defaults).
pub async fn server_config(cert_path: &str, key_path: &str) -> anyhow::Result<RustlsConfig> {
    let cert_pem = tokio::fs::read(cert_path)
        .await
        .with_context(|| format!("reading BOOKSTORE_TLS_CERT {cert_path}"))?;
    let key_pem = tokio::fs::read(key_path)
        .await
        .with_context(|| format!("reading BOOKSTORE_TLS_KEY {key_path}"))?;
    let config = build(&cert_pem, &key_pem)?;
    Ok(RustlsConfig::from_config(Arc::new(config)))
}

/// The rustls configuration for a PEM certificate chain and PEM private key.
pub fn build(cert_pem: &[u8], key_pem: &[u8]) -> anyhow::Result<rustls::ServerConfig> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<_, _>>()
        .context("BOOKSTORE_TLS_CERT is not a PEM certificate chain")?;
    if certs.is_empty() {
        anyhow::bail!("BOOKSTORE_TLS_CERT holds no certificate");
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem)
        .context("BOOKSTORE_TLS_KEY is not a PEM private key")?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .context("the TLS certificate and key do not go together")?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}
