//! `/containers/{id}/exec` and `/exec/{id}/...`: create, start (detached, or
//! attached over a hijacked connection), resize and inspect.

use std::convert::Infallible;

use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use berth_api::ApiError;
use berth_engine::containers::exec::{stdin_eof_frame, stdin_frame, ExecCreateBody, ExecSession};
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{json, json_body};
use crate::params::Params;
use crate::server::{ApiResult, AppState};
use crate::streams::frame;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ExecStartBody {
    #[serde(default)]
    detach: bool,
    /// How the stream is framed (raw or multiplexed), as in dockerd; the
    /// exec's create config decides whether the process has a terminal.
    #[serde(default)]
    tty: bool,
}

pub async fn create(State(e): State<AppState>, Path(id): Path<String>, body: Bytes) -> ApiResult {
    let body: ExecCreateBody = json_body(&body)?;
    let exec_id = e.create_exec(&id, body)?;
    Ok(json(
        StatusCode::CREATED,
        &serde_json::json!({"Id": exec_id}),
    ))
}

fn output_bytes(stream: u8, data: &[u8], tty: bool) -> Bytes {
    if tty {
        Bytes::copy_from_slice(data)
    } else {
        frame(stream, data)
    }
}

/// Why an exec could not start, as dockerd writes it into the stream.
fn start_failure(err: &berth_engine::Error, tty: bool) -> Bytes {
    output_bytes(1, format!("{err}\r\n").as_bytes(), tty)
}

fn content_type(tty: bool) -> &'static str {
    if tty {
        "application/vnd.docker.raw-stream"
    } else {
        "application/vnd.docker.multiplexed-stream"
    }
}

pub async fn start(
    State(e): State<AppState>,
    Path(id): Path<String>,
    mut req: Request,
) -> ApiResult {
    let wants_upgrade = req.headers().get(header::UPGRADE).is_some();
    let raw = axum::body::to_bytes(std::mem::take(req.body_mut()), 1 << 20)
        .await
        .map_err(|err| ApiError::bad_request(format!("read body: {err}")))?;
    let body: ExecStartBody = json_body(&raw)?;
    if body.detach || !wants_upgrade {
        if !body.detach {
            e.check_exec_startable(&id)?;
        }
        let session = match e.start_exec(&id, body.detach).await {
            Ok(Some(s)) => s,
            Ok(None) => return Ok((StatusCode::OK, Body::empty()).into_response()),
            // Attached, a process that cannot start is told in the stream
            // (and its exit code by inspect), as dockerd does with or without
            // an upgrade: docker-py's exec_run reads it there.
            Err(err) if !body.detach => {
                return Ok((
                    StatusCode::OK,
                    [(header::CONTENT_TYPE, content_type(body.tty))],
                    Body::from(start_failure(&err, body.tty)),
                )
                    .into_response());
            }
            Err(err) => return Err(err.into()),
        };
        let tty = body.tty;
        let ExecSession { output, .. } = session;
        let stream = futures_util::stream::unfold(output, move |mut rx| async move {
            rx.recv()
                .await
                .map(|(s, d)| (Ok::<_, Infallible>(output_bytes(s, &d, tty)), rx))
        });
        return Ok((
            StatusCode::OK,
            [(header::CONTENT_TYPE, content_type(tty))],
            Body::from_stream(stream),
        )
            .into_response());
    }
    // As dockerd: unknown or already started execs are HTTP errors; a process
    // that cannot start is reported inside the hijacked stream, and its exit
    // code (126/127) by inspect.
    e.check_exec_startable(&id)?;
    let tty = body.tty;
    // The detach keys end the session; the process runs on.
    let escape = e.exec_escape(&id)?;
    let upgrade = hyper::upgrade::on(&mut req);
    tokio::spawn(async move {
        let Ok(upgraded) = upgrade.await else { return };
        let (mut reader, mut writer) = tokio::io::split(TokioIo::new(upgraded));
        let session = match e.start_exec(&id, false).await {
            Ok(Some(s)) => s,
            Ok(None) => return,
            Err(err) => {
                let _ = writer.write_all(&start_failure(&err, tty)).await;
                let _ = writer.shutdown().await;
                return;
            }
        };
        let ExecSession {
            mut output, input, ..
        } = session;
        // Client input goes to the process until the client closes its side
        // or detaches.
        let detached = std::sync::Arc::new(tokio::sync::Notify::new());
        let pump_in = tokio::spawn({
            let detached = detached.clone();
            let mut escape = escape;
            async move {
                let mut buf = vec![0u8; 32 * 1024];
                loop {
                    let n = match reader.read(&mut buf).await {
                        Ok(0) | Err(_) => {
                            let _ = input.send(stdin_eof_frame()).await;
                            return;
                        }
                        Ok(n) => n,
                    };
                    let (data, detach) = match escape.as_mut() {
                        Some(e) => e.feed(&buf[..n]),
                        None => (buf[..n].to_vec(), false),
                    };
                    if !data.is_empty() && input.send(stdin_frame(&data)).await.is_err() {
                        return;
                    }
                    if detach {
                        detached.notify_one();
                        return;
                    }
                }
            }
        });
        loop {
            tokio::select! {
                out = output.recv() => {
                    let Some((s, d)) = out else { break };
                    if writer.write_all(&output_bytes(s, &d, tty)).await.is_err() {
                        break;
                    }
                    let _ = writer.flush().await;
                }
                () = detached.notified() => break,
            }
        }
        let _ = writer.shutdown().await;
        pump_in.abort();
    });
    Ok(Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header(header::CONNECTION, "Upgrade")
        .header(header::UPGRADE, "tcp")
        .header(header::CONTENT_TYPE, content_type(tty))
        .body(Body::empty())
        .map_err(|err| ApiError::internal(err.to_string()))?)
}

pub async fn resize(
    State(e): State<AppState>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    let p = Params::parse(q.as_deref());
    e.resize_exec(&id, p.int("h")?.unwrap_or(0), p.int("w")?.unwrap_or(0))?;
    Ok((StatusCode::OK, Body::empty()).into_response())
}

pub async fn inspect(State(e): State<AppState>, Path(id): Path<String>) -> ApiResult {
    Ok(json(StatusCode::OK, &e.inspect_exec(&id)?))
}
