//! Microversion negotiation, as Nova does it.
//!
//! A request names its version in `OpenStack-API-Version: compute 2.60`
//! (which wins) or the legacy `X-OpenStack-Nova-API-Version: 2.60`; no
//! header means 2.1 and `latest` means [`MAX`]. A malformed version is a
//! 400, a well-formed one outside `MIN..=MAX` a 406. Every versioned
//! response, errors included, says which version served it in both headers
//! and varies on them.
//!
//! # Why the maximum is 2.96
//!
//! Clients negotiate from the `version` of the version document: novaclient
//! (which knows up to 2.96) uses `min(server max, 2.96)`, and openstacksdk
//! caps each resource at its own maximum (quota sets at 2.56, limits at
//! 2.57). What the maximum changes for the APIs served today is only which
//! quota and limit fields appear, and this module plus
//! `ferrostack_compute_types::quota` shape those correctly for every
//! version from 2.1 to 2.96, so advertising 2.96 is honest for them and
//! makes `nova` speak the same version to us as to a current Nova.
//! Advertising less (say 2.1) would be honest too, but would show
//! novaclient users nova-network quotas that a current cloud no longer
//! has and make the SDK request 2.1 shapes. Flavors and key pairs honour
//! their changes up to 2.96 too (description 2.55, extra specs in views
//! 2.61, spec validation 2.86, swap 2.75; key pair type 2.2, `user_id`
//! 2.10, paging 2.35, required `public_key` 2.92). Servers and the rest
//! answer 501 at every version until they are built; as each arrives it
//! must honour every microversion up to this maximum (or the maximum must
//! come down), which `docs/compatibility.md` tracks.

use crate::error::ComputeError;
use axum::extract::{FromRequestParts, Request};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use ferrostack_compute_types::ApiVersion;
use http::header::VARY;
use http::request::Parts;
use http::{HeaderMap, HeaderValue, StatusCode};

/// The oldest microversion served.
pub const MIN: ApiVersion = ApiVersion::new(2, 1);
/// The newest microversion served (see the module docs for why).
pub const MAX: ApiVersion = ApiVersion::new(2, 96);

/// The standard header.
pub const STANDARD_HEADER: &str = "openstack-api-version";
/// Nova's legacy header.
pub const LEGACY_HEADER: &str = "x-openstack-nova-api-version";
const SERVICE_TYPE: &str = "compute";

/// All values of `name`, folded into one comma-separated string.
fn folded(headers: &HeaderMap, name: &str) -> Option<String> {
    let values: Vec<&str> = headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    (!values.is_empty()).then(|| values.join(","))
}

/// The version string the request asks for, if any.
fn requested_string(headers: &HeaderMap) -> Result<Option<String>, ComputeError> {
    if let Some(standard) = folded(headers, STANDARD_HEADER) {
        for item in standard.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let mut words = item.split_whitespace();
            let (Some(service), Some(version), None) = (words.next(), words.next(), words.next())
            else {
                return Err(ComputeError::BadRequest(format!(
                    "Invalid OpenStack-API-Version header item {item:?}: expected \"<service-type> <version>\"."
                )));
            };
            if service.eq_ignore_ascii_case(SERVICE_TYPE) {
                return Ok(Some(version.to_string()));
            }
        }
    }
    Ok(folded(headers, LEGACY_HEADER).map(|v| v.trim().to_string()))
}

/// The version a request is to be served at, or the 400/406 to answer.
pub fn negotiate(headers: &HeaderMap) -> Result<ApiVersion, ComputeError> {
    let Some(requested) = requested_string(headers)? else {
        return Ok(MIN);
    };
    if requested.eq_ignore_ascii_case("latest") {
        return Ok(MAX);
    }
    let version: ApiVersion =
        requested
            .parse()
            .map_err(|e: ferrostack_compute_types::ParseVersionError| {
                ComputeError::BadRequest(e.to_string())
            })?;
    if version < MIN || version > MAX {
        return Err(ComputeError::Status(
            StatusCode::NOT_ACCEPTABLE,
            format!(
                "Version {version} is not supported by the API. Minimum is {MIN} and maximum is {MAX}."
            ),
        ));
    }
    Ok(version)
}

/// Stamp the version headers on a response.
pub fn stamp(resp: &mut Response, version: ApiVersion) {
    let headers = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&format!("{SERVICE_TYPE} {version}")) {
        headers.insert(STANDARD_HEADER, v);
    }
    if let Ok(v) = HeaderValue::from_str(&version.to_string()) {
        headers.insert(LEGACY_HEADER, v);
    }
    headers.append(
        VARY,
        HeaderValue::from_static("OpenStack-API-Version, X-OpenStack-Nova-API-Version"),
    );
}

/// Middleware: negotiate, make the version available to handlers, stamp the response.
pub async fn layer(mut req: Request, next: Next) -> Response {
    match negotiate(req.headers()) {
        Ok(version) => {
            req.extensions_mut().insert(version);
            let mut resp = next.run(req).await;
            stamp(&mut resp, version);
            resp
        }
        Err(e) => e.into_response(),
    }
}

/// The negotiated version, as a handler argument.
#[derive(Clone, Copy, Debug)]
pub struct Version(pub ApiVersion);

impl<S: Send + Sync> FromRequestParts<S> for Version {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Version(
            parts.extensions.get::<ApiVersion>().copied().unwrap_or(MIN),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    fn status(r: Result<ApiVersion, ComputeError>) -> u16 {
        r.unwrap_err().into_response().status().as_u16()
    }

    #[test]
    fn no_header_means_2_1_and_latest_means_the_maximum() {
        assert_eq!(negotiate(&HeaderMap::new()).unwrap(), MIN);
        assert_eq!(
            negotiate(&headers(&[("openstack-api-version", "compute latest")])).unwrap(),
            MAX
        );
        assert_eq!(
            negotiate(&headers(&[("x-openstack-nova-api-version", "latest")])).unwrap(),
            MAX
        );
    }

    #[test]
    fn the_standard_header_wins_over_the_legacy_one() {
        let h = headers(&[
            ("openstack-api-version", "placement 1.10, compute 2.57"),
            ("x-openstack-nova-api-version", "2.3"),
        ]);
        assert_eq!(negotiate(&h).unwrap(), ApiVersion::new(2, 57));
    }

    #[test]
    fn a_standard_header_for_another_service_falls_back_to_the_legacy_one() {
        let h = headers(&[
            ("openstack-api-version", "volume 3.10"),
            ("x-openstack-nova-api-version", "2.36"),
        ]);
        assert_eq!(negotiate(&h).unwrap(), ApiVersion::new(2, 36));
        let only_other = headers(&[("openstack-api-version", "volume 3.10")]);
        assert_eq!(negotiate(&only_other).unwrap(), MIN);
    }

    #[test]
    fn malformed_is_400_and_out_of_range_is_406() {
        assert_eq!(
            status(negotiate(&headers(&[(
                "openstack-api-version",
                "compute 2.x"
            )]))),
            400
        );
        assert_eq!(
            status(negotiate(&headers(&[("openstack-api-version", "compute")]))),
            400
        );
        assert_eq!(
            status(negotiate(&headers(&[(
                "x-openstack-nova-api-version",
                "2.97"
            )]))),
            406
        );
        assert_eq!(
            status(negotiate(&headers(&[(
                "x-openstack-nova-api-version",
                "2.0"
            )]))),
            406
        );
        assert_eq!(
            status(negotiate(&headers(&[(
                "x-openstack-nova-api-version",
                "3.1"
            )]))),
            406
        );
    }
}
