//! The host API's handlers: thin translations between HTTP and the
//! [`HostLink`](crate::hostlink::HostLink) traits, plus the two file
//! transfers (base images out, snapshots in).

use super::{AgentEndpoint, ApiState};
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use ferrostack_host_contract::wire::{
    error_response, valid_host_name, RegisterRequest, WatchReply, MAX_WATCH,
};
use ferrostack_host_contract::{
    DesiredStateSource, ObservedInstance, ObservedObject, ObservedStateSink, SourceError,
};
use futures::StreamExt;
use serde::Deserialize;
use std::io;
use std::path::{Path as FsPath, PathBuf};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Bytes per chunk of an image download.
const CHUNK: usize = 256 * 1024;

type ApiResult<T> = Result<T, ApiError>;

/// An error answer: rendered as `{"error": {"code", "message"}}`.
pub(super) struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        error_response(self.0, self.1)
    }
}

fn host_name(host: &str) -> ApiResult<()> {
    if valid_host_name(host) {
        Ok(())
    } else {
        Err(ApiError(
            StatusCode::BAD_REQUEST,
            "Host names are 1-255 letters, digits, '.', '-' or '_'.".into(),
        ))
    }
}

/// A UUID in plain hyphenated form: safe as a file name.
fn image_id(id: &str) -> ApiResult<()> {
    if id.len() == 36 && uuid::Uuid::try_parse(id).is_ok() {
        Ok(())
    } else {
        Err(ApiError(
            StatusCode::BAD_REQUEST,
            format!("Image id {id:?} is not a UUID."),
        ))
    }
}

fn unavailable(e: SourceError) -> ApiError {
    match &e {
        SourceError::Unavailable(inner) => {
            tracing::warn!(error = %inner, "host API: the store failed");
            ApiError(StatusCode::SERVICE_UNAVAILABLE, e.to_string())
        }
        SourceError::UnsupportedKind(_) => ApiError(StatusCode::NOT_IMPLEMENTED, e.to_string()),
    }
}

fn internal(what: &str, e: impl std::fmt::Display) -> ApiError {
    tracing::warn!(error = %e, "host API: {what}");
    ApiError(StatusCode::INTERNAL_SERVER_ERROR, format!("{what}: {e}"))
}

/// `POST /hosts/{host}/register`.
pub(super) async fn register(
    State(s): State<ApiState>,
    Path(host): Path<String>,
    Json(body): Json<RegisterRequest>,
) -> ApiResult<StatusCode> {
    host_name(&host)?;
    let url = body.console_url.trim_end_matches('/');
    if !url.starts_with("https://") || url.len() > 2048 {
        return Err(ApiError(
            StatusCode::BAD_REQUEST,
            "console_url must be an https:// URL.".into(),
        ));
    }
    let agent = AgentEndpoint {
        url: url.to_string(),
        cert: body.console_cert_sha256,
    };
    if body.zone.is_empty() || body.zone.len() > 255 {
        return Err(ApiError(
            StatusCode::BAD_REQUEST,
            "zone must be 1-255 characters.".into(),
        ));
    }
    if let Some(ip) = &body.tunnel_ip {
        if ip.parse::<std::net::IpAddr>().is_err() {
            return Err(ApiError(
                StatusCode::BAD_REQUEST,
                "tunnel_ip must be an IP address.".into(),
            ));
        }
    }
    s.link
        .register_remote_host(
            &host,
            &body.zone,
            &body.capabilities,
            &s.inventory,
            Some(&agent),
            body.tunnel_ip.as_deref(),
        )
        .map_err(|e| internal("cannot register the host", e))?;
    if s.agents.set(&host, &agent) {
        tracing::info!(host, agent_url = url, agent_cert = %agent.cert, "remote compute host registered");
    }
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /hosts/{host}/assigned`.
pub(super) async fn assigned(
    State(s): State<ApiState>,
    Path(host): Path<String>,
) -> ApiResult<Response> {
    host_name(&host)?;
    let a = s.link.assigned(&host).await.map_err(unavailable)?;
    Ok(Json(a).into_response())
}

#[derive(Deserialize)]
pub(super) struct WatchQuery {
    since: u64,
    timeout_ms: Option<u64>,
}

/// `GET /hosts/{host}/watch?since=N&timeout_ms=M`: long poll, at most
/// [`MAX_WATCH`].
pub(super) async fn watch(
    State(s): State<ApiState>,
    Path(host): Path<String>,
    Query(q): Query<WatchQuery>,
) -> ApiResult<Json<WatchReply>> {
    host_name(&host)?;
    let timeout = Duration::from_millis(q.timeout_ms.unwrap_or(30_000)).min(MAX_WATCH);
    let revision = s
        .link
        .watch(&host, q.since, timeout)
        .await
        .map_err(unavailable)?;
    Ok(Json(WatchReply { revision }))
}

/// `POST /hosts/{host}/observed`.
pub(super) async fn report(
    State(s): State<ApiState>,
    Path(host): Path<String>,
    Json(observed): Json<Vec<ObservedInstance>>,
) -> ApiResult<StatusCode> {
    host_name(&host)?;
    s.link.report(&host, observed).await.map_err(unavailable)?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /hosts/{host}/observed`.
pub(super) async fn last_reported(
    State(s): State<ApiState>,
    Path(host): Path<String>,
) -> ApiResult<Response> {
    host_name(&host)?;
    let o = s.link.last_reported(&host).await.map_err(unavailable)?;
    Ok(Json(o).into_response())
}

/// `POST /hosts/{host}/objects`: what the agent observed of its objects
/// other than instances (ports, networks, DHCP servers).
pub(super) async fn report_objects(
    State(s): State<ApiState>,
    Path(host): Path<String>,
    Json(observed): Json<Vec<ObservedObject>>,
) -> ApiResult<StatusCode> {
    host_name(&host)?;
    (s.link.report_objects(&host, observed).await).map_err(unavailable)?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /hosts/{host}/objects`.
pub(super) async fn last_reported_objects(
    State(s): State<ApiState>,
    Path(host): Path<String>,
) -> ApiResult<Response> {
    host_name(&host)?;
    let o = (s.link.last_reported_objects(&host).await).map_err(unavailable)?;
    Ok(Json(o).into_response())
}

/// `GET /hosts/{host}/metadata/{path}`: a guest's metadata, for the
/// instance the agent names and signs (see
/// `ferrostack_host_contract::metadata`). A bad signature is 403; an
/// instance not on `host`, or a path not in the tree, 404.
pub(super) async fn metadata(
    State(s): State<ApiState>,
    Path((host, path)): Path<(String, String)>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    metadata_answer(&s, &host, &path, &headers)
}

/// `GET /hosts/{host}/metadata`: the root of the tree.
pub(super) async fn metadata_root(
    State(s): State<ApiState>,
    Path(host): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    metadata_answer(&s, &host, "", &headers)
}

fn metadata_answer(
    s: &ApiState,
    host: &str,
    path: &str,
    headers: &HeaderMap,
) -> ApiResult<Response> {
    use ferrostack_host_contract::metadata::{
        valid_path, verify, INSTANCE_ID_HEADER, SIGNATURE_HEADER,
    };
    host_name(host)?;
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    };
    let (instance, signature) = (header(INSTANCE_ID_HEADER), header(SIGNATURE_HEADER));
    if instance.is_empty() || !verify(&s.metadata_key, instance, signature) {
        tracing::warn!(host = %host.escape_debug(), "metadata request with a bad instance signature");
        return Err(ApiError(
            StatusCode::FORBIDDEN,
            "Invalid instance signature.".into(),
        ));
    }
    let not_found = || ApiError(StatusCode::NOT_FOUND, "Not found.".into());
    if !valid_path(path) {
        return Err(not_found());
    }
    let answer = (s.link.metadata(host, instance, path))
        .map_err(|e| internal("cannot read the instance", e))?
        .ok_or_else(not_found)?;
    Ok(([(header::CONTENT_TYPE, answer.content_type)], answer.body).into_response())
}

/// `GET /images/{image_id}`: the image's bytes as the image service
/// stored them, streamed.
pub(super) async fn image(
    State(s): State<ApiState>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    image_id(&id)?;
    let path = s.images_dir.join(&id);
    let file = match tokio::fs::File::open(&path).await {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(ApiError(
                StatusCode::NOT_FOUND,
                format!("Image {id} has no data on the controller."),
            ))
        }
        Err(e) => return Err(internal("cannot read the image", e)),
    };
    let len = file
        .metadata()
        .await
        .map_err(|e| internal("cannot read the image", e))?
        .len();
    let stream = futures::stream::unfold(Some(file), |state| async move {
        let mut file = state?;
        let mut buf = vec![0u8; CHUNK];
        match file.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok::<_, io::Error>(buf), Some(file)))
            }
            Err(e) => Some((Err(e), None)),
        }
    });
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_string()),
            (header::CONTENT_LENGTH, len.to_string()),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}

/// `PUT /snapshots/{image_id}`: the agent's snapshot file, written under
/// a temporary name and renamed to where the link's importer reads it, so
/// an interrupted upload never looks complete.
pub(super) async fn snapshot(
    State(s): State<ApiState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<StatusCode> {
    image_id(&id)?;
    let expected = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let dest = s.link.snapshots().path_for(&id);
    let dir = dest
        .parent()
        .map(FsPath::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    tokio::fs::create_dir_all(&dir)
        .await
        .map_err(|e| internal("cannot create the snapshot directory", e))?;
    let tmp = dir.join(format!(".{id}.upload-{}", uuid::Uuid::new_v4().simple()));
    let r = receive(body, &tmp, expected).await;
    let r = match r {
        Ok(size) => tokio::fs::rename(&tmp, &dest)
            .await
            .map(|()| size)
            .map_err(|e| internal("cannot store the snapshot", e)),
        Err(e) => Err(e),
    };
    if r.is_err() {
        let _ = tokio::fs::remove_file(&tmp).await;
    }
    let size = r?;
    tracing::info!(image = %id, bytes = size, "snapshot received from a host");
    Ok(StatusCode::NO_CONTENT)
}

/// Writes the request body to `tmp`; returns its size.
async fn receive(body: Body, tmp: &FsPath, expected: Option<u64>) -> ApiResult<u64> {
    let mut file = tokio::fs::File::create(tmp)
        .await
        .map_err(|e| internal("cannot store the snapshot", e))?;
    let mut stream = body.into_data_stream();
    let mut size = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| {
            ApiError(
                StatusCode::BAD_REQUEST,
                format!("The snapshot upload broke off: {e}"),
            )
        })?;
        size += chunk.len() as u64;
        file.write_all(&chunk)
            .await
            .map_err(|e| internal("cannot store the snapshot", e))?;
    }
    if expected.is_some_and(|n| n != size) {
        return Err(ApiError(
            StatusCode::BAD_REQUEST,
            "The snapshot upload is shorter or longer than its Content-Length.".into(),
        ));
    }
    file.sync_all()
        .await
        .map_err(|e| internal("cannot store the snapshot", e))?;
    Ok(size)
}
