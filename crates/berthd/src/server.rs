//! The Engine API router: every path bare and under `/v1.NN/`, Docker's
//! error bodies, and the headers dockerd sends on every response.

use std::sync::Arc;

use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, delete, get, post};
use axum::Router;
use berth_api::version::{split_version_prefix, API_VERSION};
use berth_api::ApiError;
use berth_engine::Engine;
use tracing::Instrument;

use crate::handlers::{build, containers, events, exec, images, networks, system, volumes};

/// An `ApiError` on its way out as `{"message": ...}` with its status.
pub struct HttpError(pub ApiError);

impl From<ApiError> for HttpError {
    fn from(e: ApiError) -> Self {
        HttpError(e)
    }
}

/// The one place an engine error becomes an HTTP answer: its class is the
/// status, its message the body; an internal error's causes go to the log.
impl From<berth_engine::Error> for HttpError {
    fn from(e: berth_engine::Error) -> Self {
        if let berth_engine::Error::Internal {
            source: Some(cause),
            ..
        } = &e
        {
            tracing::debug!("{e}: caused by {cause:?}");
        }
        HttpError(ApiError::new(e.kind(), e.to_string()))
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.0.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if status == StatusCode::NOT_MODIFIED {
            return status.into_response();
        }
        if status.is_server_error() {
            tracing::error!("{}", self.0.message);
        } else {
            tracing::debug!(status = status.as_u16(), "{}", self.0.message);
        }
        (
            status,
            [("content-type", "application/json")],
            self.0.body() + "\n",
        )
            .into_response()
    }
}

pub type ApiResult<T = Response> = Result<T, HttpError>;

pub type AppState = Arc<Engine>;

/// Strips `/v1.NN` (refusing versions newer than ours) before routing, and
/// stamps dockerd's headers on the answer.
async fn version_prefix(mut req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    let bare = match split_version_prefix(&path) {
        Ok((_, bare)) => bare.to_string(),
        Err(e) => return with_headers(HttpError(e).into_response()),
    };
    if bare != path {
        let pq = match req.uri().query() {
            Some(q) => format!("{bare}?{q}"),
            None => bare,
        };
        let mut parts = req.uri().clone().into_parts();
        parts.path_and_query = pq.parse().ok();
        if let Ok(uri) = axum::http::Uri::from_parts(parts) {
            *req.uri_mut() = uri;
        }
    }
    let span = tracing::info_span!("request", method = %req.method(), path = %path);
    with_headers(next.run(req).instrument(span).await)
}

fn with_headers(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    h.insert("api-version", HeaderValue::from_static(API_VERSION));
    h.insert("docker-experimental", HeaderValue::from_static("false"));
    // The legacy builder's protocol (POST /build with a tar): BuildKit sessions are not served.
    h.insert("builder-version", HeaderValue::from_static("1"));
    h.insert("ostype", HeaderValue::from_static("linux"));
    h.insert(
        "server",
        HeaderValue::from_static(concat!("Berth/", env!("CARGO_PKG_VERSION"), " (linux)")),
    );
    resp
}

/// dockerd's words for a path it does not serve (the request is logged).
async fn not_found(req: Request) -> HttpError {
    tracing::debug!(method = %req.method(), path = %req.uri().path(), "page not found");
    HttpError(ApiError::not_found("page not found"))
}

pub fn router(engine: Arc<Engine>) -> Router {
    let api = Router::new()
        .route("/_ping", get(system::ping).head(system::ping))
        .route("/version", get(system::version))
        .route("/auth", post(images::auth))
        .route("/distribution/{*rest}", get(images::distribution))
        .route("/info", get(system::info))
        .route("/system/df", get(system::df))
        .route("/events", get(events::events))
        .route("/volumes", get(volumes::list))
        .route("/volumes/create", post(volumes::create))
        .route("/volumes/prune", post(volumes::prune))
        .route(
            "/volumes/{name}",
            get(volumes::inspect).delete(volumes::remove),
        )
        .route("/networks", get(networks::list))
        .route("/networks/create", post(networks::create))
        .route("/networks/prune", post(networks::prune))
        .route(
            "/networks/{id}",
            get(networks::inspect).delete(networks::remove),
        )
        .route("/networks/{id}/connect", post(networks::connect))
        .route("/networks/{id}/disconnect", post(networks::disconnect))
        .route("/containers/create", post(containers::create))
        .route("/containers/json", get(containers::list))
        .route("/containers/prune", post(containers::prune))
        .route("/containers/{id}/json", get(containers::inspect))
        .route("/containers/{id}/start", post(containers::start))
        .route("/containers/{id}/stop", post(containers::stop))
        .route("/containers/{id}/restart", post(containers::restart))
        .route("/containers/{id}/kill", post(containers::kill))
        .route("/containers/{id}/wait", post(containers::wait))
        .route("/containers/{id}/rename", post(containers::rename))
        .route("/containers/{id}/pause", post(containers::pause))
        .route("/containers/{id}/unpause", post(containers::unpause))
        .route("/containers/{id}/logs", get(containers::logs))
        .route("/containers/{id}/top", get(containers::top))
        .route("/containers/{id}/stats", get(containers::stats))
        .route("/containers/{id}/attach", post(containers::attach))
        .route("/containers/{id}/update", post(containers::update))
        .route("/containers/{id}/resize", post(containers::resize))
        .route("/containers/{id}/changes", get(containers::changes))
        .route("/containers/{id}/export", get(containers::export))
        .route("/commit", post(containers::commit))
        .route(
            "/containers/{id}/archive",
            get(containers::archive_get)
                .head(containers::archive_head)
                .put(containers::archive_put),
        )
        .route("/containers/{id}/attach/ws", get(containers::attach_ws))
        .route("/containers/{id}/exec", post(exec::create))
        .route("/exec/{id}/start", post(exec::start))
        .route("/exec/{id}/resize", post(exec::resize))
        .route("/exec/{id}/json", get(exec::inspect))
        .route("/containers/{id}", delete(containers::remove))
        // `rm --link /web/db`: a link's name has the linking container's in it.
        .route(
            "/containers/{id}/{alias}",
            delete(containers::remove_named_link),
        )
        .route("/build", post(build::build))
        .route("/build/prune", post(build::prune))
        .route("/images/json", get(images::list))
        .route("/images/create", post(images::create))
        .route("/images/load", post(images::load))
        .route("/images/get", get(images::save_many))
        .route("/images/prune", post(images::prune))
        .route("/images/{*rest}", any(images::by_name))
        .fallback(not_found)
        // dockerd answers a known path with an unknown method as an unknown path.
        .method_not_allowed_fallback(not_found)
        .with_state(engine);
    Router::new()
        .fallback_service(api)
        .layer(axum::middleware::from_fn(version_prefix))
}
