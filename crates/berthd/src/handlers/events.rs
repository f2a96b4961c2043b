//! `GET /events`: past events from `since`, then live ones until `until`
//! (or until the client goes away), as JSON lines.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use berth_engine::containers::logs::parse_timestamp;
use berth_engine::events::Event;
use tokio::sync::broadcast::error::RecvError;

use crate::params::Params;
use crate::server::{ApiResult, AppState};

fn line(e: &Event) -> Bytes {
    let mut b = serde_json::to_vec(&e.to_json()).unwrap_or_default();
    b.push(b'\n');
    Bytes::from(b)
}

pub async fn events(State(e): State<AppState>, RawQuery(q): RawQuery) -> ApiResult {
    let p = Params::parse(q.as_deref());
    let nanos = |s: Option<f64>| s.map(|v| (v * 1e9) as i64);
    let since = nanos(parse_timestamp(p.get("since").unwrap_or(""))?);
    let until = nanos(parse_timestamp(p.get("until").unwrap_or(""))?);
    let filters = e.event_filters(p.get("filters"))?;
    let (past, rx) = e.events().subscribe(since);
    let past: VecDeque<Event> = past
        .into_iter()
        .filter(|ev| ev.matches(&filters) && until.is_none_or(|u| ev.time_nano <= u))
        .collect();
    let now = chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0);
    // How long to stay subscribed: forever, or until `until`.
    let live_for = until.map(|u| Duration::from_nanos(u.saturating_sub(now).max(0) as u64));
    let deadline = live_for.map(|d| tokio::time::Instant::now() + d);
    let body = futures_util::stream::unfold(
        (past, rx, filters),
        move |(mut past, mut rx, filters)| async move {
            if let Some(ev) = past.pop_front() {
                return Some((Ok::<_, Infallible>(line(&ev)), (past, rx, filters)));
            }
            loop {
                let next = match deadline {
                    Some(d) => match tokio::time::timeout_at(d, rx.recv()).await {
                        Ok(r) => r,
                        Err(_) => return None,
                    },
                    None => rx.recv().await,
                };
                match next {
                    Ok(ev) if ev.matches(&filters) => {
                        return Some((Ok(line(&ev)), (past, rx, filters)))
                    }
                    Ok(_) | Err(RecvError::Lagged(_)) => continue,
                    Err(RecvError::Closed) => return None,
                }
            }
        },
    );
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        Body::from_stream(body),
    )
        .into_response())
}
