//! `POST /build` and `POST /build/prune`, as the legacy builder answers them:
//! a stream of `{"stream": …}` lines, `{"aux": {"ID": …}}` for the image, and
//! `{"error": …, "errorDetail": …}` when it fails (still a 200: the stream had begun).

use std::collections::BTreeMap;
use std::convert::Infallible;

use axum::body::Body;
use axum::extract::{RawQuery, Request, State};
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use berth_api::types::HostConfig;
use berth_api::{ApiError, ImageRef};
use berth_engine::build::{BuildProgress, BuildRequest};
use serde_json::json;

use super::json;
use crate::params::Params;
use crate::server::{ApiResult, AppState};
use crate::streams::BodyReader;

/// `buildargs` and `labels`: a JSON object of strings; a null build arg is left unset.
fn string_map(p: &Params, key: &str) -> Result<BTreeMap<String, String>, ApiError> {
    let Some(raw) = p.get(key).filter(|s| !s.is_empty()) else {
        return Ok(BTreeMap::new());
    };
    let map: BTreeMap<String, Option<String>> = serde_json::from_str(raw).map_err(|e| {
        ApiError::bad_request(format!(
            "invalid {key} (a JSON object of strings is needed): {e}"
        ))
    })?;
    Ok(map
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k, v)))
        .collect())
}

/// A query value that is a JSON array of strings (`cachefrom`).
fn string_list(p: &Params, key: &str) -> Result<Vec<String>, ApiError> {
    let Some(raw) = p.get(key).filter(|s| !s.is_empty()) else {
        return Ok(Vec::new());
    };
    serde_json::from_str(raw).map_err(|e| {
        ApiError::bad_request(format!(
            "invalid {key} (a JSON array of strings is needed): {e}"
        ))
    })
}

fn request(p: &Params) -> Result<BuildRequest, ApiError> {
    let remote = p.get("remote").filter(|r| !r.is_empty()).map(String::from);
    if let Some(r) = &remote {
        if !r.starts_with("http://") && !r.starts_with("https://") {
            return Err(ApiError::bad_request(format!(
                "remote build context {r:?}: only http:// and https:// URLs of a tar or a Dockerfile are supported by this berthd (no git)"
            )));
        }
    }
    let tags = p
        .all("t")
        .iter()
        .filter(|t| !t.is_empty())
        .map(|t| {
            ImageRef::parse(t)
                .map_err(|e| ApiError::bad_request(format!("invalid tag {t:?}: {}", e.message)))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let network_mode = match p.get("networkmode").unwrap_or("") {
        "" | "default" => String::new(),
        other => other.to_string(),
    };
    let int = |k: &str| p.int(k).map(|v| v.unwrap_or(0));
    let host_config = HostConfig {
        network_mode,
        extra_hosts: p
            .get("extrahosts")
            .filter(|s| !s.is_empty())
            .map(|s| s.split(',').map(String::from).collect()),
        shm_size: int("shmsize")?,
        memory: int("memory")?,
        memory_swap: int("memswap")?,
        cpu_shares: int("cpushares")?,
        cpu_period: int("cpuperiod")?,
        cpu_quota: int("cpuquota")?,
        cpuset_cpus: p.get("cpusetcpus").unwrap_or("").to_string(),
        cpuset_mems: p.get("cpusetmems").unwrap_or("").to_string(),
        ..Default::default()
    };
    Ok(BuildRequest {
        dockerfile: p.get("dockerfile").unwrap_or("Dockerfile").to_string(),
        dockerfile_text: None,
        tags,
        options: berth_build::Options {
            build_args: string_map(p, "buildargs")?,
            target: p.get("target").filter(|t| !t.is_empty()).map(String::from),
            no_cache: p.bool("nocache")?,
            labels: string_map(p, "labels")?,
            cache_from: string_list(p, "cachefrom")?,
        },
        host_config,
        remote,
        registry_auth: Default::default(),
    })
}

fn line(v: serde_json::Value) -> Result<bytes::Bytes, Infallible> {
    let mut b = serde_json::to_vec(&v).unwrap_or_default();
    b.push(b'\n');
    Ok(bytes::Bytes::from(b))
}

pub async fn build(State(e): State<AppState>, RawQuery(q): RawQuery, req: Request) -> ApiResult {
    let p = Params::parse(q.as_deref());
    let mut build = request(&p)?;
    // `X-Registry-Config`: every registry's credentials, by server.
    if let Some(v) = super::images::base64_json(req.headers(), "x-registry-config")? {
        build.registry_auth = v
            .as_object()
            .into_iter()
            .flatten()
            .filter_map(|(server, a)| super::images::credentials_of(a).map(|c| (server.clone(), c)))
            .collect();
    }
    let quiet = p.bool("q")?;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let body = BodyReader::new(req.into_body());
    tokio::spawn(async move {
        if let Err(err) = e.build_image(build, body, tx.clone()).await {
            let _ = tx.send(BuildProgress::Error(err));
        }
    });
    // As dockerd: a build that fails before anything was written (a bad
    // Dockerfile, a missing one; any failure of a quiet build) is an HTTP
    // error; once the stream has begun, the error is its last message.
    let first = loop {
        match rx.recv().await {
            Some(BuildProgress::Stream(_)) if quiet => continue,
            other => break other,
        }
    };
    if let Some(BuildProgress::Error(f)) = first {
        return Err(f.error.into());
    }
    let head = first.map(|m| render(m, quiet));
    let rest = futures_util::stream::unfold(rx, move |mut rx| async move {
        loop {
            let msg = rx.recv().await?;
            if let BuildProgress::Stream(_) = msg {
                if quiet {
                    continue;
                }
            }
            return Some((render(msg, quiet), rx));
        }
    });
    let stream = futures_util::StreamExt::chain(futures_util::stream::iter(head), rest);
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        Body::from_stream(stream),
    )
        .into_response())
}

/// One message as a JSON line of dockerd's build stream.
fn render(msg: BuildProgress, quiet: bool) -> Result<bytes::Bytes, Infallible> {
    let v = match msg {
        BuildProgress::Stream(s) => json!({"stream": s}),
        // -q: only the image ID, which docker's legacy builder prints as a stream line.
        BuildProgress::Aux(id) if quiet => {
            let mut both = line(json!({"aux": {"ID": id}}))
                .unwrap_or_default()
                .to_vec();
            both.extend_from_slice(&line(json!({"stream": format!("{id}\n")})).unwrap_or_default());
            return Ok(bytes::Bytes::from(both));
        }
        BuildProgress::Aux(id) => json!({"aux": {"ID": id}}),
        BuildProgress::Error(f) => {
            let mut detail = json!({"message": f.error.to_string()});
            if let Some(code) = f.code {
                detail["code"] = json!(code);
            }
            json!({"errorDetail": detail, "error": f.error.to_string()})
        }
    };
    line(v)
}

pub async fn prune(State(e): State<AppState>, RawQuery(q): RawQuery) -> ApiResult {
    let p = Params::parse(q.as_deref());
    // The legacy cache has no per-record ages or sizes to filter on.
    let f = p.filters()?;
    f.only(&[])?;
    let (deleted, reclaimed) = e.prune_build_cache().await?;
    Ok(json(
        StatusCode::OK,
        &json!({"CachesDeleted": deleted, "SpaceReclaimed": reclaimed}),
    ))
}
