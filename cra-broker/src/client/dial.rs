//! Dialling the server: TCP (through an HTTP proxy with `CONNECT` when one is set), TLS for
//! `https` servers (webpki roots plus the configured CA bundle), then the websocket handshake
//! on `/primus/<token>/?connection_role=primary&EIO=4&transport=websocket`.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::WebSocketStream;

use super::ClientConfig;
use crate::protocol::CLIENT_VERSION;

/// Any byte stream the websocket can run on.
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// The tunnel's websocket.
pub type Socket = WebSocketStream<Box<dyn Io>>;

/// Why a dial failed.
#[derive(Debug, thiserror::Error)]
pub enum DialError {
    /// The server URL cannot be dialled.
    #[error("invalid server URL")]
    Url,
    /// TCP or proxy failure.
    #[error("cannot connect")]
    Connect(#[source] std::io::Error),
    /// TLS failure.
    #[error("TLS handshake failed (the server certificate must chain to a web root or to a CA in CA_CERT)")]
    Tls(#[source] std::io::Error),
    /// Websocket handshake failure.
    #[error("websocket handshake failed")]
    Handshake(#[source] Box<tokio_tungstenite::tungstenite::Error>),
    /// Nothing within the connect timeout.
    #[error("connect timed out")]
    Timeout,
}

/// The websocket URL of the tunnel.
pub fn tunnel_url(server: &url::Url, token: &str) -> Option<url::Url> {
    let mut url = server.clone();
    let scheme = match server.scheme() {
        "https" | "wss" => "wss",
        "http" | "ws" => "ws",
        _ => return None,
    };
    url.set_scheme(scheme).ok()?;
    let base = server.path().trim_end_matches('/');
    url.set_path(&format!("{base}/primus/{token}/"));
    url.set_query(Some("connection_role=primary&EIO=4&transport=websocket"));
    Some(url)
}

/// Opens the tunnel websocket.
pub async fn dial(
    config: &ClientConfig,
    tls: &Arc<rustls::ClientConfig>,
) -> Result<Socket, DialError> {
    tokio::time::timeout(config.connect_timeout, dial_inner(config, tls))
        .await
        .map_err(|_| DialError::Timeout)?
}

async fn dial_inner(
    config: &ClientConfig,
    tls: &Arc<rustls::ClientConfig>,
) -> Result<Socket, DialError> {
    let url = tunnel_url(&config.server_url, config.token.expose()).ok_or(DialError::Url)?;
    let host = url.host_str().ok_or(DialError::Url)?.to_owned();
    let port = url.port_or_known_default().ok_or(DialError::Url)?;
    let secure = url.scheme() == "wss";
    let tcp = match config.proxy.for_host(secure, &host) {
        Some(proxy) => {
            tracing::debug!(proxy = %super::proxy::display(proxy), "dialling through a proxy");
            through_proxy(proxy, &host, port).await?
        }
        None => TcpStream::connect((host.as_str(), port))
            .await
            .map_err(DialError::Connect)?,
    };
    let _ = tcp.set_nodelay(true);
    let stream: Box<dyn Io> = if secure {
        let name =
            rustls::pki_types::ServerName::try_from(host.clone()).map_err(|_| DialError::Url)?;
        let connector = tokio_rustls::TlsConnector::from(tls.clone());
        Box::new(connector.connect(name, tcp).await.map_err(DialError::Tls)?)
    } else {
        Box::new(tcp)
    };
    let mut request = url
        .as_str()
        .into_client_request()
        .map_err(|e| DialError::Handshake(Box::new(e)))?;
    let headers = request.headers_mut();
    let pairs = [
        ("x-snyk-broker-client-id", config.client_id.clone()),
        ("x-snyk-broker-client-role", "primary".to_owned()),
        ("x-broker-client-version", CLIENT_VERSION.to_owned()),
        ("snyk-request-id", uuid::Uuid::new_v4().to_string()),
    ];
    for (name, value) in pairs {
        if let Ok(value) = http::HeaderValue::try_from(value) {
            headers.insert(name, value);
        }
    }
    let ws_config = WebSocketConfig::default()
        .max_message_size(Some(64 << 20))
        .max_frame_size(Some(64 << 20));
    let (socket, _) = tokio_tungstenite::client_async_with_config(request, stream, Some(ws_config))
        .await
        .map_err(|e| DialError::Handshake(Box::new(e)))?;
    Ok(socket)
}

async fn through_proxy(proxy: &url::Url, host: &str, port: u16) -> Result<TcpStream, DialError> {
    let proxy_host = proxy.host_str().ok_or(DialError::Url)?;
    let proxy_port = proxy.port_or_known_default().unwrap_or(3128);
    let mut tcp = TcpStream::connect((proxy_host, proxy_port))
        .await
        .map_err(DialError::Connect)?;
    let mut connect = format!("CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\n");
    if !proxy.username().is_empty() {
        let user = percent_encoding::percent_decode_str(proxy.username())
            .decode_utf8_lossy()
            .into_owned();
        let pass = percent_encoding::percent_decode_str(proxy.password().unwrap_or_default())
            .decode_utf8_lossy()
            .into_owned();
        let basic = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
        connect.push_str(&format!("Proxy-Authorization: Basic {basic}\r\n"));
    }
    connect.push_str("\r\n");
    tcp.write_all(connect.as_bytes())
        .await
        .map_err(DialError::Connect)?;
    let mut reply = Vec::new();
    let mut byte = [0u8; 1];
    while !reply.ends_with(b"\r\n\r\n") {
        if reply.len() > 8192 || tcp.read(&mut byte).await.map_err(DialError::Connect)? == 0 {
            return Err(DialError::Connect(std::io::Error::other(
                "proxy closed the CONNECT",
            )));
        }
        reply.push(byte[0]);
    }
    let status_ok = reply
        .split(|b| *b == b' ')
        .nth(1)
        .is_some_and(|code| code.starts_with(b"2"));
    if !status_ok {
        return Err(DialError::Connect(std::io::Error::other(
            "proxy refused the CONNECT",
        )));
    }
    Ok(tcp)
}

/// TLS settings: webpki roots plus the PEM certificates of the CA bundle.
pub fn tls_config(ca_pem: Option<&[u8]>) -> Result<rustls::ClientConfig, std::io::Error> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(pem) = ca_pem {
        use rustls::pki_types::pem::PemObject;
        for cert in rustls::pki_types::CertificateDer::pem_slice_iter(pem) {
            let cert = cert.map_err(std::io::Error::other)?;
            roots.add(cert).map_err(std::io::Error::other)?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(std::io::Error::other)?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// The stock `SOCKET_CONNECT_TIMEOUT`.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tunnel_urls() {
        let u = |s: &str| tunnel_url(&url::Url::parse(s).unwrap(), "tok").map(|u| u.to_string());
        assert_eq!(
            u("http://127.0.0.1:8000").unwrap(),
            "ws://127.0.0.1:8000/primus/tok/?connection_role=primary&EIO=4&transport=websocket"
        );
        assert_eq!(u("https://broker.example/base/").unwrap(), "wss://broker.example/base/primus/tok/?connection_role=primary&EIO=4&transport=websocket");
        assert!(u("ftp://x").is_none());
    }

    #[test]
    fn bad_ca_bundles_are_errors() {
        assert!(tls_config(None).is_ok());
        assert!(tls_config(Some(
            b"-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n"
        ))
        .is_err());
    }
}
