//! HTTP client for the Engine API over UNIX sockets and TCP: JSON calls,
//! streamed bodies, hijacked attach connections and stream demultiplexing.

pub mod demux;

use std::path::PathBuf;

use bytes::Bytes;
use http_body_util::{combinators::BoxBody, BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde::de::DeserializeOwned;

pub use berth_api::version::API_VERSION;

pub const DEFAULT_HOST: &str = "unix:///run/berth/berth.sock";

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The daemon answered with an error status.
    #[error("Error response from daemon: {message}")]
    Api { status: u16, message: String },
    #[error(
        "Cannot connect to the Berth daemon at {host}. Is the berth daemon running? ({reason})"
    )]
    Connect { host: String, reason: String },
    #[error("{0}")]
    Protocol(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

pub type Result<T, E = ClientError> = std::result::Result<T, E>;

pub type RequestBody = BoxBody<Bytes, std::io::Error>;

pub fn empty_body() -> RequestBody {
    Full::new(Bytes::new())
        .map_err(|never| match never {})
        .boxed()
}

pub fn bytes_body(b: impl Into<Bytes>) -> RequestBody {
    Full::new(b.into()).map_err(|never| match never {}).boxed()
}

/// A request body streamed from a reader (an image archive for load/import).
pub fn reader_body(
    reader: impl tokio::io::AsyncRead + Send + Sync + Unpin + 'static,
) -> RequestBody {
    use tokio::io::AsyncReadExt;
    let stream = futures_util::stream::unfold(reader, |mut r| async move {
        let mut buf = vec![0u8; 256 * 1024];
        match r.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(hyper::body::Frame::data(Bytes::from(buf))), r))
            }
            Err(e) => Some((Err(e), r)),
        }
    });
    http_body_util::StreamBody::new(stream).boxed()
}

#[derive(Debug, Clone)]
enum Endpoint {
    Unix(PathBuf),
    Tcp(String),
}

#[derive(Debug, Clone)]
pub struct Client {
    endpoint: Endpoint,
    host: String,
}

impl Client {
    /// `unix:///path`, `tcp://host:port`, or a bare socket path.
    pub fn new(host: &str) -> Result<Client> {
        let endpoint = if let Some(p) = host.strip_prefix("unix://") {
            Endpoint::Unix(p.into())
        } else if let Some(a) = host.strip_prefix("tcp://") {
            Endpoint::Tcp(a.trim_end_matches('/').to_string())
        } else if host.starts_with('/') {
            Endpoint::Unix(host.into())
        } else {
            return Err(ClientError::Protocol(format!(
                "invalid host {host:?}: use unix://PATH or tcp://HOST:PORT"
            )));
        };
        Ok(Client {
            endpoint,
            host: host.to_string(),
        })
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    async fn send(&self, req: Request<RequestBody>) -> Result<Response<Incoming>> {
        let connect_err = |e: std::io::Error| ClientError::Connect {
            host: self.host.clone(),
            reason: e.to_string(),
        };
        macro_rules! over {
            ($stream:expr) => {{
                let (mut sender, conn) =
                    hyper::client::conn::http1::handshake(TokioIo::new($stream))
                        .await
                        .map_err(|e| ClientError::Protocol(e.to_string()))?;
                tokio::spawn(async move {
                    let _ = conn.with_upgrades().await;
                });
                sender
                    .send_request(req)
                    .await
                    .map_err(|e| ClientError::Protocol(format!("request failed: {e}")))
            }};
        }
        match &self.endpoint {
            Endpoint::Unix(p) => over!(tokio::net::UnixStream::connect(p)
                .await
                .map_err(connect_err)?),
            Endpoint::Tcp(a) => over!(tokio::net::TcpStream::connect(a)
                .await
                .map_err(connect_err)?),
        }
    }

    fn build(
        &self,
        method: Method,
        path: &str,
        body: RequestBody,
        headers: &[(&str, &str)],
    ) -> Result<Request<RequestBody>> {
        let mut b = Request::builder()
            .method(method)
            .uri(format!("/v{API_VERSION}{path}"))
            .header("host", "berth");
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(body)
            .map_err(|e| ClientError::Protocol(e.to_string()))
    }

    /// Sends a request; error statuses become `ClientError::Api`.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: RequestBody,
        content_type: Option<&str>,
    ) -> Result<Response<Incoming>> {
        let headers: Vec<(&str, &str)> = content_type
            .map(|ct| ("content-type", ct))
            .into_iter()
            .collect();
        self.call_with(method, path, body, &headers).await
    }

    /// [`Client::call`] with any headers (`X-Registry-Auth`, …).
    pub async fn call_with(
        &self,
        method: Method,
        path: &str,
        body: RequestBody,
        headers: &[(&str, &str)],
    ) -> Result<Response<Incoming>> {
        let resp = self.send(self.build(method, path, body, headers)?).await?;
        let status = resp.status();
        if status.is_client_error() || status.is_server_error() {
            return Err(api_error(resp).await);
        }
        Ok(resp)
    }

    pub async fn get_json<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        let resp = self.call(Method::GET, path, empty_body(), None).await?;
        read_json(resp).await
    }

    async fn post_body(
        &self,
        path: &str,
        body: &impl serde::Serialize,
    ) -> Result<Response<Incoming>> {
        let raw = serde_json::to_vec(body).map_err(|e| ClientError::Protocol(e.to_string()))?;
        self.call(
            Method::POST,
            path,
            bytes_body(raw),
            Some("application/json"),
        )
        .await
    }

    pub async fn post_json<T: DeserializeOwned>(
        &self,
        path: &str,
        body: &impl serde::Serialize,
    ) -> Result<T> {
        read_json(self.post_body(path, body).await?).await
    }

    /// A JSON request whose answer has no body (network connect, say).
    pub async fn post_empty(&self, path: &str, body: &impl serde::Serialize) -> Result<()> {
        let resp = self.post_body(path, body).await?;
        let _ = resp.into_body().collect().await;
        Ok(())
    }

    /// A request whose answer is not needed beyond its status (204, 304).
    pub async fn post(&self, path: &str) -> Result<StatusCode> {
        let resp = self.call(Method::POST, path, empty_body(), None).await?;
        let status = resp.status();
        let _ = resp.into_body().collect().await;
        Ok(status)
    }

    pub async fn delete_json<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        let resp = self.call(Method::DELETE, path, empty_body(), None).await?;
        read_json(resp).await
    }

    pub async fn delete(&self, path: &str) -> Result<()> {
        let resp = self.call(Method::DELETE, path, empty_body(), None).await?;
        let _ = resp.into_body().collect().await;
        Ok(())
    }

    /// Hijacks the connection (HTTP upgrade to `tcp`), as attach does.
    pub async fn hijack(&self, path: &str) -> Result<hyper::upgrade::Upgraded> {
        self.hijack_with(path, Vec::new()).await
    }

    /// Hijacks with a JSON body (exec start sends `{"Detach":false,"Tty":…}`).
    pub async fn hijack_with(&self, path: &str, json: Vec<u8>) -> Result<hyper::upgrade::Upgraded> {
        let ct = if json.is_empty() {
            "text/plain"
        } else {
            "application/json"
        };
        let mut req = self.build(
            Method::POST,
            path,
            bytes_body(json),
            &[("content-type", ct)],
        )?;
        req.headers_mut()
            .insert("connection", "Upgrade".parse().expect("static header"));
        req.headers_mut()
            .insert("upgrade", "tcp".parse().expect("static header"));
        let resp = self.send(req).await?;
        if resp.status() != StatusCode::SWITCHING_PROTOCOLS {
            return Err(api_error(resp).await);
        }
        hyper::upgrade::on(resp)
            .await
            .map_err(|e| ClientError::Protocol(format!("upgrade failed: {e}")))
    }
}

/// The daemon's `{"message": ...}` (or whatever text it sent) as an error.
async fn api_error(resp: Response<Incoming>) -> ClientError {
    let status = resp.status().as_u16();
    let raw = resp
        .into_body()
        .collect()
        .await
        .map(|c| c.to_bytes())
        .unwrap_or_default();
    let message = serde_json::from_slice::<berth_api::error::ErrorBody>(&raw)
        .map(|b| b.message)
        .unwrap_or_else(|_| String::from_utf8_lossy(&raw).trim().to_string());
    ClientError::Api { status, message }
}

pub async fn read_json<T: DeserializeOwned>(resp: Response<Incoming>) -> Result<T> {
    let raw = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| ClientError::Protocol(e.to_string()))?
        .to_bytes();
    serde_json::from_slice(&raw)
        .map_err(|e| ClientError::Protocol(format!("invalid response from daemon: {e}")))
}

/// Percent-encodes a query value.
pub fn enc(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}
