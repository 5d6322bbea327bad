//! One HTTP/1.1 exchange with the admin listener (plain HTTP: the admin listener is private), over hyper's
//! own client, so no second HTTP stack.

use std::time::Duration;

use anyhow::Context;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, StatusCode, Uri};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// Whole-call deadline.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Sends `body` (JSON, or empty) to `url` with `method` and `Authorization: Bearer <token>`; returns the status
/// and the body text.
///
/// # Errors
/// The URL is not `http://host:port/…`, or the instance cannot be reached or does not answer in time.
pub(super) async fn send(method: Method, url: &str, token: &str, body: String) -> anyhow::Result<(StatusCode, String)> {
    let uri: Uri = url.parse().with_context(|| format!("invalid admin URL {url}"))?;
    anyhow::ensure!(uri.scheme_str() == Some("http"), "the admin URL must be http://host:port");
    let host = uri.host().context("the admin URL has no host")?.to_owned();
    let port = uri.port_u16().unwrap_or(80);
    let call = async {
        let stream =
            TcpStream::connect((host.as_str(), port)).await.with_context(|| format!("connecting to {host}:{port}"))?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        let driver = tokio::spawn(conn);
        let request = Request::builder()
            .method(method)
            .uri(uri.path_and_query().map_or("/", |p| p.as_str()))
            .header(hyper::header::HOST, format!("{host}:{port}"))
            .header(hyper::header::AUTHORIZATION, format!("Bearer {token}"))
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(body)))?;
        let response = sender.send_request(request).await?;
        let status = response.status();
        let text = String::from_utf8_lossy(&response.into_body().collect().await?.to_bytes()).into_owned();
        driver.abort();
        anyhow::Ok((status, text))
    };
    tokio::time::timeout(TIMEOUT, call).await.context("the admin listener did not answer in time")?
}
