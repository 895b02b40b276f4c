//! Cinder's microversions: `OpenStack-API-Version: volume 3.x`.
//!
//! No header means 3.0, `latest` means [`MAX`]; a malformed version is a
//! 400 and one outside `MIN..=MAX` a 406. Every response under `/v3`
//! names the version that served it (`OpenStack-API-Version: volume 3.x`)
//! and varies on the header, as Cinder's WSGI layer does. Views ask
//! [`Version::at_least`] for fields that exist only from some version.
//!
//! Why 3.71: it is what a current cinderclient and openstacksdk know; the
//! fields that appear up to it in the resources served are shaped in
//! `views` (`group_id` 3.13, `provider_id` 3.21, `service_uuid` and
//! `shared_targets` 3.48, `cluster_name` 3.61, `volume_type_id` 3.63,
//! `consumes_quota` 3.65, `count` with `with_count` 3.45).

use crate::error::VolumeError;
use axum::extract::{FromRequestParts, Request};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::request::Parts;
use http::{HeaderMap, HeaderValue, StatusCode};

/// A `3.x` version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version(pub u16, pub u16);

/// The oldest version served.
pub const MIN: Version = Version(3, 0);
/// The newest version served.
pub const MAX: Version = Version(3, 71);

impl Version {
    /// True from `3.minor` on.
    pub fn at_least(&self, minor: u16) -> bool {
        *self >= Version(3, minor)
    }
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.0, self.1)
    }
}

fn parse(raw: &str) -> Option<Version> {
    let (major, minor) = raw.split_once('.')?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(major) || !digits(minor) {
        return None;
    }
    Some(Version(major.parse().ok()?, minor.parse().ok()?))
}

/// The version a request is served at, or the 400/406 to answer.
pub fn negotiate(headers: &HeaderMap) -> Result<Version, VolumeError> {
    for value in headers.get_all("openstack-api-version") {
        let Ok(text) = value.to_str() else { continue };
        for item in text.split(',').map(str::trim) {
            let mut words = item.split_whitespace();
            let (Some(service), Some(version)) = (words.next(), words.next()) else {
                continue;
            };
            if !service.eq_ignore_ascii_case("volume") {
                continue;
            }
            if version.eq_ignore_ascii_case("latest") {
                return Ok(MAX);
            }
            let v = parse(version).ok_or_else(|| {
                VolumeError::BadRequest(format!("Invalid API version: {version}"))
            })?;
            if v < MIN || v > MAX {
                return Err(VolumeError::Status(
                    StatusCode::NOT_ACCEPTABLE,
                    format!(
                        "Version {v} is not supported by the API. Minimum is {MIN} and maximum is {MAX}."
                    ),
                ));
            }
            return Ok(v);
        }
    }
    Ok(MIN)
}

/// Middleware: negotiate, hand the version to handlers, stamp the reply.
pub async fn layer(mut req: Request, next: Next) -> Response {
    let versioned = req.uri().path().starts_with("/v3/");
    if !versioned {
        return next.run(req).await;
    }
    match negotiate(req.headers()) {
        Ok(v) => {
            req.extensions_mut().insert(v);
            let mut resp = next.run(req).await;
            let h = resp.headers_mut();
            if let Ok(value) = HeaderValue::from_str(&format!("volume {v}")) {
                h.insert("openstack-api-version", value);
            }
            h.append(
                http::header::VARY,
                HeaderValue::from_static("OpenStack-API-Version"),
            );
            resp
        }
        Err(e) => e.into_response(),
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Version {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(parts.extensions.get::<Version>().copied().unwrap_or(MIN))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(v: &'static str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("openstack-api-version", HeaderValue::from_static(v));
        h
    }

    #[test]
    fn versions_are_read_checked_and_defaulted() {
        assert_eq!(negotiate(&HeaderMap::new()).unwrap(), MIN);
        assert_eq!(negotiate(&with("volume 3.42")).unwrap(), Version(3, 42));
        assert_eq!(negotiate(&with("compute 2.1, volume latest")).unwrap(), MAX);
        assert!(
            matches!(negotiate(&with("volume 3.72")), Err(VolumeError::Status(s, _)) if s == StatusCode::NOT_ACCEPTABLE)
        );
        assert!(matches!(
            negotiate(&with("volume 3.x")),
            Err(VolumeError::BadRequest(_))
        ));
        assert!(Version(3, 45).at_least(45) && !Version(3, 44).at_least(45));
    }
}
