//! One catch-all route for the paths of an API a service has not built yet.
//!
//! A real OpenStack service sits behind keystonemiddleware, so every path,
//! built or not, answers 401 to a caller without a valid token. A router
//! `.fallback` would skip [`enforce`](crate::enforce) (no route matched,
//! so there is no row to look up) and answer anyone. Registered as a route
//! instead, [`UNBUILT`] goes through the policy layer like every other:
//! the service gives it rows in its table (`Authenticated`, one per
//! method), the layer answers 401 or 503 exactly as it does elsewhere,
//! and only a valid token reaches the service's 501.
//!
//! One catch-all rather than a row per path of the API (as compute has,
//! where most of Nova is listed): nothing needs a path list kept in step
//! with an API while nothing is built behind it. The router prefers
//! static and parameter segments to a catch-all, so built routes keep
//! their own rows; a path deeper than a built one still lands here.

use crate::RoutePolicy;
use axum::handler::Handler;
use axum::routing::{MethodFilter, MethodRouter};
use http::Method;

/// The catch-all route template of the APIs not built yet.
pub const UNBUILT: &str = "/{*unbuilt}";

/// The route for [`UNBUILT`]: `handler` for every method `table` has an
/// [`UNBUILT`] row for (`GET` brings `HEAD`). Other methods answer 405,
/// which the table could not authorize anyway.
pub fn unbuilt_route<H, T, S>(table: &[RoutePolicy], handler: H) -> MethodRouter<S>
where
    H: Handler<T, S>,
    T: 'static,
    S: Clone + Send + Sync + 'static,
{
    let mut route = MethodRouter::new();
    for row in table.iter().filter(|r| r.path == UNBUILT) {
        let filter = Method::from_bytes(row.method.as_bytes())
            .ok()
            .and_then(|m| MethodFilter::try_from(m).ok());
        match filter {
            Some(filter) => route = route.on(filter, handler.clone()),
            None => tracing::error!(method = row.method, "unknown method in the policy table"),
        }
    }
    route
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Rule::Authenticated;
    use axum::body::Body;
    use axum::Router;
    use http::{Request, StatusCode};
    use tower::ServiceExt;

    const fn row(method: &'static str) -> RoutePolicy {
        RoutePolicy {
            method,
            path: UNBUILT,
            rule: Authenticated,
        }
    }

    const TABLE: &[RoutePolicy] = &[row("GET"), row("DELETE")];

    async fn status(method: &str, path: &str) -> StatusCode {
        let router: Router = Router::new().route(
            UNBUILT,
            unbuilt_route(TABLE, || async { StatusCode::NOT_IMPLEMENTED }),
        );
        let request = Request::builder()
            .method(method)
            .uri(path)
            .body(Body::empty())
            .unwrap_or_default();
        match router.oneshot(request).await {
            Ok(response) => response.status(),
            Err(never) => match never {},
        }
    }

    #[tokio::test]
    async fn routes_exactly_the_methods_of_the_rows() {
        for (method, path, expected) in [
            ("GET", "/v9/things", StatusCode::NOT_IMPLEMENTED),
            ("HEAD", "/v9/things", StatusCode::NOT_IMPLEMENTED),
            ("DELETE", "/a/b/c", StatusCode::NOT_IMPLEMENTED),
            ("POST", "/v9/things", StatusCode::METHOD_NOT_ALLOWED),
        ] {
            assert_eq!(status(method, path).await, expected, "{method} {path}");
        }
    }
}
