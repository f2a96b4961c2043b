//! `/containers/...` handlers: parse the request, call the engine, shape the answer.

use std::convert::Infallible;

use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use berth_api::types::{ContainerCreateBody, ContainerWaitResponse};
use berth_api::ApiError;
use berth_engine::containers::list::ListOptions;
use berth_engine::containers::logs::{parse_timestamp, LogOptions};
use berth_engine::containers::wait::WaitCondition;
use futures_util::StreamExt;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{json, json_body, no_content};
use crate::params::Params;
use crate::server::{ApiResult, AppState, HttpError};
use crate::streams::log_bytes;

pub async fn create(State(e): State<AppState>, RawQuery(q): RawQuery, body: Bytes) -> ApiResult {
    let p = Params::parse(q.as_deref());
    let body: ContainerCreateBody = json_body(&body)?;
    let resp = e.create_container(p.get("name"), body).await?;
    Ok(json(StatusCode::CREATED, &resp))
}

pub async fn list(State(e): State<AppState>, RawQuery(q): RawQuery) -> ApiResult {
    let p = Params::parse(q.as_deref());
    let limit = p.int("limit")?.filter(|l| *l > 0).map(|l| l as usize);
    let opts = ListOptions {
        all: p.bool("all")?,
        limit,
        size: p.bool("size")?,
        filters: p.filters()?,
    };
    Ok(json(StatusCode::OK, &e.list_containers(&opts)?))
}

pub async fn inspect(
    State(e): State<AppState>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    let p = Params::parse(q.as_deref());
    Ok(json(
        StatusCode::OK,
        &e.inspect_container(&id, p.bool("size")?)?,
    ))
}

pub async fn start(State(e): State<AppState>, Path(id): Path<String>) -> ApiResult {
    e.start_container(&id).await?;
    Ok(no_content())
}

fn stop_params(q: Option<&str>) -> Result<(Option<String>, Option<i64>), ApiError> {
    let p = Params::parse(q);
    Ok((
        p.get("signal").filter(|s| !s.is_empty()).map(String::from),
        p.int("t")?,
    ))
}

pub async fn stop(
    State(e): State<AppState>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    let (signal, t) = stop_params(q.as_deref())?;
    e.stop_container(&id, signal.as_deref(), t).await?;
    Ok(no_content())
}

pub async fn restart(
    State(e): State<AppState>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    let (signal, t) = stop_params(q.as_deref())?;
    e.restart_container(&id, signal.as_deref(), t).await?;
    Ok(no_content())
}

pub async fn kill(
    State(e): State<AppState>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    let p = Params::parse(q.as_deref());
    e.kill_container(&id, p.get("signal")).await?;
    Ok(no_content())
}

/// Answers with headers at once and the body when the condition holds, so
/// the client knows its wait is registered before it starts the container.
pub async fn wait(
    State(e): State<AppState>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    let p = Params::parse(q.as_deref());
    let cond = WaitCondition::parse(p.get("condition"))?;
    let done = e.wait_container(&id, cond)?;
    let body = futures_util::stream::once(async move {
        let code = done.await;
        let mut b = serde_json::to_vec(&ContainerWaitResponse {
            status_code: code,
            error: None,
        })
        .unwrap_or_default();
        b.push(b'\n');
        Ok::<_, Infallible>(Bytes::from(b))
    });
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        Body::from_stream(body),
    )
        .into_response())
}

pub async fn remove(
    State(e): State<AppState>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    let p = Params::parse(q.as_deref());
    if p.bool("link")? {
        // `id` is the link's name, `/self/alias`.
        e.remove_link(&id)?;
        return Ok(no_content());
    }
    e.remove_container(&id, p.bool("force")?, p.bool("v")?)
        .await?;
    Ok(no_content())
}

/// `DELETE /containers/{self}/{alias}?link=true`.
pub async fn remove_named_link(
    State(e): State<AppState>,
    Path((id, alias)): Path<(String, String)>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    let p = Params::parse(q.as_deref());
    if !p.bool("link")? {
        return Err(ApiError::no_such_container(&format!("{id}/{alias}")).into());
    }
    e.remove_link(&format!("/{id}/{alias}"))?;
    Ok(no_content())
}

pub async fn rename(
    State(e): State<AppState>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    let p = Params::parse(q.as_deref());
    e.rename_container(&id, p.get("name").unwrap_or(""))?;
    Ok(no_content())
}

pub async fn pause(State(e): State<AppState>, Path(id): Path<String>) -> ApiResult {
    e.set_paused(&id, true).await?;
    Ok(no_content())
}

pub async fn unpause(State(e): State<AppState>, Path(id): Path<String>) -> ApiResult {
    e.set_paused(&id, false).await?;
    Ok(no_content())
}

fn stream_content_type(tty: bool) -> &'static str {
    if tty {
        "application/vnd.docker.raw-stream"
    } else {
        "application/vnd.docker.multiplexed-stream"
    }
}

pub async fn logs(
    State(e): State<AppState>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    let p = Params::parse(q.as_deref());
    let tail = match p.get("tail") {
        None | Some("") | Some("all") => None,
        Some(t) => Some(
            t.parse::<i64>()
                .map_err(|_| ApiError::bad_request(format!("invalid tail: {t:?}")))?
                .max(0) as usize,
        ),
    };
    let opts = LogOptions {
        stdout: p.bool("stdout")?,
        stderr: p.bool("stderr")?,
        follow: p.bool("follow")?,
        since: parse_timestamp(p.get("since").unwrap_or(""))?,
        until: parse_timestamp(p.get("until").unwrap_or(""))?,
        tail,
    };
    let timestamps = p.bool("timestamps")?;
    let tty = e.container_tty(&id)?;
    let rx = e.container_logs(&id, opts)?;
    let body = tokio_stream(rx).map(move |r| Ok::<_, Infallible>(log_bytes(&r, tty, timestamps)));
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, stream_content_type(tty))],
        Body::from_stream(body),
    )
        .into_response())
}

fn tokio_stream<T: Send + 'static>(
    mut rx: tokio::sync::mpsc::Receiver<T>,
) -> impl futures_util::Stream<Item = T> + Send {
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

pub async fn top(
    State(e): State<AppState>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    let p = Params::parse(q.as_deref());
    Ok(json(
        StatusCode::OK,
        &e.top_container(&id, p.get("ps_args").filter(|s| !s.is_empty()))
            .await?,
    ))
}

pub async fn stats(
    State(e): State<AppState>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    let p = Params::parse(q.as_deref());
    let stream = p.bool_or("stream", true)?;
    let one_shot = p.bool("one-shot")?;
    if !stream {
        let first = e.stats_sample(&id, None)?;
        if one_shot {
            return Ok(json(StatusCode::OK, &first));
        }
        // A second sample gives precpu_stats, from which clients compute CPU %.
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        return Ok(json(StatusCode::OK, &e.stats_sample(&id, Some(&first))?));
    }
    e.container(&id)?;
    let body = futures_util::stream::unfold(
        (e, id, None::<serde_json::Value>, true),
        |(e, id, prev, first)| async move {
            if !first {
                tokio::time::sleep(berth_engine::Engine::stats_interval()).await;
            }
            let sample = e.stats_sample(&id, prev.as_ref()).ok()?;
            let mut b = serde_json::to_vec(&sample).ok()?;
            b.push(b'\n');
            Some((
                Ok::<_, Infallible>(Bytes::from(b)),
                (e, id, Some(sample), false),
            ))
        },
    );
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        Body::from_stream(body),
    )
        .into_response())
}

pub async fn prune(State(e): State<AppState>, RawQuery(q): RawQuery) -> ApiResult {
    let p = Params::parse(q.as_deref());
    Ok(json(
        StatusCode::OK,
        &e.prune_containers(&p.filters()?).await?,
    ))
}

/// `POST /containers/{id}/attach`: the connection is hijacked (HTTP upgrade
/// to `tcp`) and carries the container's output until it exits.
pub async fn attach(
    State(e): State<AppState>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
    mut req: Request,
) -> ApiResult {
    let p = Params::parse(q.as_deref());
    let tty = e.attach_target(&id)?;
    let stream = p.bool("stream")?;
    let logs = p.bool("logs")?;
    if !stream && !logs {
        return Err(HttpError(ApiError::bad_request(
            "Bad parameters: you must choose at least one stream",
        )));
    }
    let (stdout, stderr) = (p.bool("stdout")?, p.bool("stderr")?);
    let rx = if stream {
        e.attach_output(&id, logs, stdout, stderr)?
    } else {
        e.container_logs(
            &id,
            LogOptions {
                stdout,
                stderr,
                ..Default::default()
            },
        )?
    };
    let wants_upgrade = req.headers().get(header::UPGRADE).is_some();
    if !wants_upgrade {
        let body = tokio_stream(rx).map(move |r| Ok::<_, Infallible>(log_bytes(&r, tty, false)));
        return Ok((
            StatusCode::OK,
            [(header::CONTENT_TYPE, stream_content_type(tty))],
            Body::from_stream(body),
        )
            .into_response());
    }
    let input = if p.bool("stdin")? {
        e.attach_input(&id)?
    } else {
        None
    };
    let mut escape =
        berth_api::detach::Escape::new(match p.get("detachKeys").filter(|k| !k.is_empty()) {
            None => berth_api::detach::DEFAULT.to_vec(),
            Some(k) => berth_api::detach::parse(k).map_err(|_| {
                ApiError::bad_request(format!("Invalid detach keys ({k}) provided"))
            })?,
        });
    let upgrade = hyper::upgrade::on(&mut req);
    tokio::spawn(async move {
        let Ok(upgraded) = upgrade.await else { return };
        let (mut reader, mut writer) = tokio::io::split(TokioIo::new(upgraded));
        let mut rx = rx;
        let mut input = input;
        let mut scratch = [0u8; 4096];
        let mut reading = true;
        loop {
            tokio::select! {
                rec = rx.recv() => {
                    let Some(r) = rec else { break };
                    if writer.write_all(&log_bytes(&r, tty, false)).await.is_err() {
                        return;
                    }
                    let _ = writer.flush().await;
                }
                // A read error means the client is gone; EOF only means it
                // closed its writing half (the CLI does, without -i).
                n = reader.read(&mut scratch), if reading => match n {
                                        Ok(0) => {
                        reading = false;
                        // The client closed its input: tell the container (StdinOnce).
                        if let Some(tx) = input.take() {
                            let _ = tx.send(berth_engine::containers::exec::stdin_eof_frame()).await;
                        }
                    }
                    Ok(n) => {
                        let Some(tx) = input.as_ref() else { continue };
                        // The detach sequence ends the attach; the container runs on.
                        let (data, detached) = escape.feed(&scratch[..n]);
                        if !data.is_empty() && tx.send(berth_engine::containers::exec::stdin_frame(&data)).await.is_err() {
                            input = None;
                        }
                        if detached {
                            let _ = writer.write_all(b"read escape sequence\r\n").await;
                            let _ = writer.shutdown().await;
                            return;
                        }
                    }
                    Err(_) => return,
                },
            }
        }
        let _ = writer.shutdown().await;
    });
    Ok(Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header(header::CONNECTION, "Upgrade")
        .header(header::UPGRADE, "tcp")
        .header(header::CONTENT_TYPE, stream_content_type(tty))
        .body(Body::empty())
        .map_err(|e| ApiError::internal(e.to_string()))?)
}

pub async fn resize(
    State(e): State<AppState>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    let p = Params::parse(q.as_deref());
    e.resize_container(&id, p.int("h")?.unwrap_or(0), p.int("w")?.unwrap_or(0))
        .await?;
    Ok((StatusCode::OK, Body::empty()).into_response())
}

pub async fn update(State(e): State<AppState>, Path(id): Path<String>, body: Bytes) -> ApiResult {
    let update: berth_api::types::HostConfig = json_body(&body)?;
    Ok(json(
        StatusCode::OK,
        &e.update_container(&id, update).await?,
    ))
}

/// `GET /containers/{id}/attach/ws`: the same streams over a websocket,
/// output as binary messages, input from the client's messages.
pub async fn attach_ws(
    State(e): State<AppState>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
    ws: Result<
        axum::extract::ws::WebSocketUpgrade,
        axum::extract::ws::rejection::WebSocketUpgradeRejection,
    >,
) -> ApiResult {
    use axum::extract::ws::Message;
    let p = Params::parse(q.as_deref());
    e.attach_target(&id)?;
    let ws = ws.map_err(|r| ApiError::bad_request(r.body_text()))?;
    let (stdout, stderr) = (p.bool("stdout")?, p.bool("stderr")?);
    let logs = p.bool("logs")?;
    let rx = if p.bool_or("stream", true)? {
        e.attach_output(&id, logs, stdout, stderr)?
    } else {
        e.container_logs(
            &id,
            LogOptions {
                stdout,
                stderr,
                ..Default::default()
            },
        )?
    };
    let input = if p.bool("stdin")? {
        e.attach_input(&id)?
    } else {
        None
    };
    Ok(ws.on_upgrade(move |mut socket| async move {
        let mut rx = rx;
        let mut input = input;
        loop {
            tokio::select! {
                rec = rx.recv() => {
                    let Some(r) = rec else { break };
                    if socket.send(Message::Binary(r.log.into_bytes().into())).await.is_err() {
                        return;
                    }
                }
                msg = socket.recv() => match msg {
                    Some(Ok(Message::Binary(b))) => {
                        if let Some(tx) = &input {
                            let _ = tx.send(berth_engine::containers::exec::stdin_frame(&b)).await;
                        }
                    }
                    Some(Ok(Message::Text(t))) => {
                        if let Some(tx) = &input {
                            let _ = tx.send(berth_engine::containers::exec::stdin_frame(t.as_bytes())).await;
                        }
                    }
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => {
                        if let Some(tx) = input.take() {
                            let _ = tx.send(berth_engine::containers::exec::stdin_eof_frame()).await;
                        }
                        return;
                    }
                    Some(Ok(_)) => {}
                },
            }
        }
        let _ = socket.send(Message::Close(None)).await;
    }))
}

pub async fn changes(State(e): State<AppState>, Path(id): Path<String>) -> ApiResult {
    Ok(json(StatusCode::OK, &e.container_changes(&id)?))
}

pub async fn export(State(e): State<AppState>, Path(id): Path<String>) -> ApiResult {
    e.container(&id)?;
    let (writer, body) = crate::streams::BodyWriter::new();
    tokio::spawn(async move {
        if let Err(err) = e.export_container(&id, writer).await {
            tracing::warn!("export failed mid-stream: {}", err);
        }
    });
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/x-tar")],
        body,
    )
        .into_response())
}

/// `POST /commit?container=…&repo=…&tag=…`, the body an optional container Config.
pub async fn commit(State(e): State<AppState>, RawQuery(q): RawQuery, body: Bytes) -> ApiResult {
    let p = Params::parse(q.as_deref());
    let container = p
        .get("container")
        .filter(|c| !c.is_empty())
        .ok_or_else(|| ApiError::bad_request("container is required"))?;
    let target = match p.get("repo").filter(|r| !r.is_empty()) {
        Some(repo) => {
            let full = match p.get("tag").filter(|t| !t.is_empty()) {
                Some(t) => format!("{repo}:{t}"),
                None => repo.to_string(),
            };
            Some(berth_api::ImageRef::parse(&full)?)
        }
        None => None,
    };
    let overrides: Option<berth_api::types::ContainerConfig> =
        if body.iter().all(u8::is_ascii_whitespace) || &body[..] == b"null" {
            None
        } else {
            Some(json_body(&body)?)
        };
    let opts = berth_engine::containers::files::CommitOptions {
        target,
        comment: p.get("comment").unwrap_or("").to_string(),
        author: p.get("author").unwrap_or("").to_string(),
        pause: p.bool_or("pause", true)?,
        changes: p.all("changes"),
        overrides,
    };
    let id = e.commit_container(container, opts).await?;
    Ok(json(StatusCode::CREATED, &serde_json::json!({"Id": id})))
}

fn path_stat_header(stat: &serde_json::Value) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(serde_json::to_vec(stat).unwrap_or_default())
}

fn archive_path(p: &Params) -> Result<String, ApiError> {
    p.get("path")
        .filter(|s| !s.is_empty())
        .map(String::from)
        .ok_or_else(|| ApiError::bad_request("bad parameter: path cannot be empty"))
}

/// `HEAD /containers/{id}/archive`: the stat header only.
pub async fn archive_head(
    State(e): State<AppState>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    let p = Params::parse(q.as_deref());
    let stat = e.archive_stat(&id, &archive_path(&p)?).await?;
    Ok((
        StatusCode::OK,
        [("x-docker-container-path-stat", path_stat_header(&stat))],
    )
        .into_response())
}

/// `GET /containers/{id}/archive`: a tar of the path, with its stat header.
pub async fn archive_get(
    State(e): State<AppState>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    let p = Params::parse(q.as_deref());
    let path = archive_path(&p)?;
    let stat = e.archive_stat(&id, &path).await?;
    let (writer, body) = crate::streams::BodyWriter::new();
    tokio::spawn(async move {
        if let Err(err) = e.archive_get(&id, &path, writer).await {
            tracing::warn!("archive failed mid-stream: {}", err);
        }
    });
    Ok((
        StatusCode::OK,
        [
            (
                header::CONTENT_TYPE.as_str(),
                "application/x-tar".to_string(),
            ),
            ("x-docker-container-path-stat", path_stat_header(&stat)),
        ],
        body,
    )
        .into_response())
}

/// `PUT /containers/{id}/archive`: extract a tar into a directory.
pub async fn archive_put(
    State(e): State<AppState>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
    req: Request,
) -> ApiResult {
    let p = Params::parse(q.as_deref());
    let path = archive_path(&p)?;
    let options = berth_engine::containers::archive::PutOptions {
        copy_uid_gid: p.bool("copyUIDGID")?,
        no_overwrite_dir_non_dir: p.bool("noOverwriteDirNonDir")?,
    };
    e.archive_put(
        &id,
        &path,
        crate::streams::BodyReader::new(req.into_body()),
        options,
    )
    .await?;
    Ok((StatusCode::OK, Body::empty()).into_response())
}
