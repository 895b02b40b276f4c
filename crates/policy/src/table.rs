//! One table per service: every route with its rule and its handler, so
//! the router, the policy table and the list of unbuilt (501) routes cannot
//! drift apart.
//!
//! [`route_table!`](crate::route_table) reads rows written the way an axum
//! router is, with the rule as each method's first argument:
//!
//! ```ignore
//! ferrostack_policy::route_table! {
//!     /// Every route and its rule.
//!     pub const RULES;
//!     /// The handlers of one path of [`RULES`].
//!     pub fn handlers for Arc<MyState>;
//!     .route("/v1/things", get(ProjectReader, things::list).post(ProjectMember, things::create))
//!     .route("/v1/widgets", get(Authenticated, unbuilt))
//! }
//! ```
//!
//! and makes both the `&[RoutePolicy]` the policy layer enforces and a
//! function giving each path's `MethodRouter`; [`add_routes`] registers
//! the paths of the table with their handlers. A route not built yet is a
//! row like any other whose handler answers 501 in the service's shape, so
//! it needs a token like the rest (see [`crate::unbuilt`]).
//!
//! A macro rather than a slice of rows holding handlers: axum handlers are
//! each their own type, and the policy table must stay a `const` slice
//! that the table-driven tests read.

use crate::RoutePolicy;
use axum::routing::MethodRouter;
use axum::Router;

#[doc(hidden)]
pub use axum as __axum;

/// Register on `router` every path of `table` that `keep` accepts, with
/// the handlers `handlers` (made by [`route_table!`](crate::route_table))
/// gives it.
pub fn add_routes<S>(
    mut router: Router<S>,
    table: &[RoutePolicy],
    handlers: fn(&str) -> Option<MethodRouter<S>>,
    keep: impl Fn(&str) -> bool,
) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    let mut seen: Vec<&str> = Vec::new();
    for row in table {
        if seen.contains(&row.path) || !keep(row.path) {
            continue;
        }
        seen.push(row.path);
        match handlers(row.path) {
            Some(methods) => router = router.route(row.path, methods),
            None => tracing::error!(path = row.path, "policy row without a handler"),
        }
    }
    router
}

/// Define a service's policy table and its handlers from one list of
/// routes; see the [module docs](crate::table).
#[macro_export]
macro_rules! route_table {
    (@name get) => { "GET" };
    (@name post) => { "POST" };
    (@name put) => { "PUT" };
    (@name patch) => { "PATCH" };
    (@name delete) => { "DELETE" };
    (@filter get) => { $crate::table::__axum::routing::MethodFilter::GET };
    (@filter post) => { $crate::table::__axum::routing::MethodFilter::POST };
    (@filter put) => { $crate::table::__axum::routing::MethodFilter::PUT };
    (@filter patch) => { $crate::table::__axum::routing::MethodFilter::PATCH };
    (@filter delete) => { $crate::table::__axum::routing::MethodFilter::DELETE };
    (
        $(#[$rmeta:meta])*
        $rvis:vis const $rules:ident;
        $(#[$hmeta:meta])*
        $hvis:vis fn $handlers:ident for $state:ty;
        $( .route($path:expr, $( $method:ident($rule:expr, $handler:expr) ).+ ) )*
    ) => {
        $(#[$rmeta])*
        $rvis const $rules: &[$crate::RoutePolicy] = &[
            $( $( $crate::RoutePolicy {
                method: $crate::route_table!(@name $method),
                path: $path,
                rule: $rule,
            }, )+ )*
        ];

        $(#[$hmeta])*
        $hvis fn $handlers(
            path: &str,
        ) -> Option<$crate::table::__axum::routing::MethodRouter<$state>> {
            let mut found: Option<$crate::table::__axum::routing::MethodRouter<$state>> = None;
            $(
                if path == $path {
                    let methods = $crate::table::__axum::routing::MethodRouter::new()
                        $( .on($crate::route_table!(@filter $method), $handler) )+;
                    found = Some(match found {
                        Some(before) => before.merge(methods),
                        None => methods,
                    });
                }
            )*
            found
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Rule::{Admin, Authenticated, Public};
    use crate::UNBUILT;
    use axum::body::Body;
    use http::{Request, StatusCode};
    use tower::ServiceExt;

    async fn ok() -> StatusCode {
        StatusCode::OK
    }

    async fn unbuilt() -> StatusCode {
        StatusCode::NOT_IMPLEMENTED
    }

    crate::route_table! {
        /// The test table.
        const RULES;
        /// Its handlers.
        fn handlers for ();
        .route("/", get(Public, ok))
        .route("/things", get(Authenticated, ok).post(Admin, ok))
        .route(UNBUILT, get(Authenticated, unbuilt).delete(Authenticated, unbuilt))
    }

    async fn status(method: &str, path: &str) -> StatusCode {
        let router: Router = add_routes(Router::new(), RULES, handlers, |_| true);
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

    #[test]
    fn the_policy_table_has_a_row_per_method() {
        let rows: Vec<_> = RULES.iter().map(|r| (r.method, r.path, r.rule)).collect();
        assert_eq!(
            rows,
            [
                ("GET", "/", Public),
                ("GET", "/things", Authenticated),
                ("POST", "/things", Admin),
                ("GET", UNBUILT, Authenticated),
                ("DELETE", UNBUILT, Authenticated),
            ]
        );
    }

    #[tokio::test]
    async fn routes_exactly_the_methods_of_the_rows() {
        for (method, path, expected) in [
            ("GET", "/", StatusCode::OK),
            ("POST", "/things", StatusCode::OK),
            ("PUT", "/things", StatusCode::METHOD_NOT_ALLOWED),
            ("GET", "/v9/things", StatusCode::NOT_IMPLEMENTED),
            ("HEAD", "/v9/things", StatusCode::NOT_IMPLEMENTED),
            ("DELETE", "/a/b/c", StatusCode::NOT_IMPLEMENTED),
            ("POST", "/v9/things", StatusCode::METHOD_NOT_ALLOWED),
        ] {
            assert_eq!(status(method, path).await, expected, "{method} {path}");
        }
    }
}
