//! The Glance routes that are not built yet: every row of the policy table
//! whose path has no handler answers 501, after the
//! policy layer has checked the token.

use crate::error::ImageError;
use crate::policy::{BUILT_PATHS, RULES};
use axum::routing::{MethodFilter, MethodRouter};
use axum::Router;
use std::collections::BTreeMap;

async fn not_implemented() -> ImageError {
    ImageError::NotImplemented("This image API is not implemented by ferrostack yet.".into())
}

fn filter(method: &str) -> Option<MethodFilter> {
    Some(match method {
        "GET" => MethodFilter::GET,
        "POST" => MethodFilter::POST,
        "PUT" => MethodFilter::PUT,
        "PATCH" => MethodFilter::PATCH,
        "DELETE" => MethodFilter::DELETE,
        _ => return None,
    })
}

/// Add a 501 route for every unbuilt row of [`RULES`].
pub fn add<S: Clone + Send + Sync + 'static>(mut router: Router<S>) -> Router<S> {
    let mut by_path: BTreeMap<&str, MethodRouter<S>> = BTreeMap::new();
    for rule in RULES.iter().filter(|r| !BUILT_PATHS.contains(&r.path)) {
        let Some(f) = filter(rule.method) else {
            tracing::error!(
                method = rule.method,
                path = rule.path,
                "unknown method in the policy table"
            );
            continue;
        };
        let methods = by_path.remove(rule.path).unwrap_or_default();
        by_path.insert(rule.path, methods.on(f, not_implemented));
    }
    for (path, methods) in by_path {
        router = router.route(path, methods);
    }
    router
}
