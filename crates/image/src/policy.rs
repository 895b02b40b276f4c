//! The image API's policy table: every route of Glance v2 and the rule it
//! needs.
//!
//! The table is also the route list: rows whose path is not in
//! [`BUILT_PATHS`] are served by the 501 handler (see `routes::unbuilt`)
//! after authentication. Built image routes need a valid token; the
//! handlers finish the check against the image (owner, visibility,
//! membership), answering 404 for images the caller may not see and 403
//! for visible images the caller may not change, as Glance does.
//! Creating an image needs `member` on the token's project.

use ferrostack_policy::Rule::{Authenticated, ProjectMember, Public};
use ferrostack_policy::{RoutePolicy, Rule};

const fn r(method: &'static str, path: &'static str, rule: Rule) -> RoutePolicy {
    RoutePolicy { method, path, rule }
}

/// Paths whose handlers exist (every other path in [`RULES`] answers 501).
pub const BUILT_PATHS: &[&str] = &[
    "/",
    "/versions",
    "/v2/images",
    "/v2/images/{image_id}",
    "/v2/images/{image_id}/file",
    "/v2/images/{image_id}/tags/{tag_value}",
    "/v2/images/{image_id}/members",
    "/v2/images/{image_id}/members/{member_id}",
    "/v2/images/{image_id}/actions/deactivate",
    "/v2/images/{image_id}/actions/reactivate",
    "/v2/schemas/image",
    "/v2/schemas/images",
    "/v2/schemas/member",
    "/v2/schemas/members",
];

const A: Rule = Authenticated;

/// Every image route and its rule.
pub const RULES: &[RoutePolicy] = &[
    // Version discovery.
    r("GET", "/", Public),
    r("GET", "/versions", Public),
    // Images: the handler decides per image.
    r("GET", "/v2/images", A),
    r("POST", "/v2/images", ProjectMember),
    r("GET", "/v2/images/{image_id}", A),
    r("PATCH", "/v2/images/{image_id}", A),
    r("DELETE", "/v2/images/{image_id}", A),
    r("PUT", "/v2/images/{image_id}/file", A),
    r("GET", "/v2/images/{image_id}/file", A),
    r("PUT", "/v2/images/{image_id}/tags/{tag_value}", A),
    r("DELETE", "/v2/images/{image_id}/tags/{tag_value}", A),
    r("GET", "/v2/images/{image_id}/members", A),
    r("POST", "/v2/images/{image_id}/members", A),
    r("GET", "/v2/images/{image_id}/members/{member_id}", A),
    r("PUT", "/v2/images/{image_id}/members/{member_id}", A),
    r("DELETE", "/v2/images/{image_id}/members/{member_id}", A),
    r("POST", "/v2/images/{image_id}/actions/deactivate", A),
    r("POST", "/v2/images/{image_id}/actions/reactivate", A),
    r("GET", "/v2/schemas/image", A),
    r("GET", "/v2/schemas/images", A),
    r("GET", "/v2/schemas/member", A),
    r("GET", "/v2/schemas/members", A),
    // ---- Not built yet: 501 after authentication.
    r("POST", "/v2/images/{image_id}/import", A),
    r("PUT", "/v2/images/{image_id}/stage", A),
    r("GET", "/v2/images/{image_id}/locations", A),
    r("POST", "/v2/images/{image_id}/locations", A),
    r("GET", "/v2/images/{image_id}/tasks", A),
    r("GET", "/v2/info/import", A),
    r("GET", "/v2/info/stores", A),
    r("GET", "/v2/info/stores/detail", A),
    r("GET", "/v2/info/usage", A),
    r("DELETE", "/v2/stores/{store_id}/{image_id}", A),
    r("GET", "/v2/cache", A),
    r("DELETE", "/v2/cache", A),
    r("POST", "/v2/cache/clean", A),
    r("GET", "/v2/cache/nodes/{image_id}", A),
    r("POST", "/v2/cache/prune", A),
    r("PUT", "/v2/cache/{image_id}", A),
    r("DELETE", "/v2/cache/{image_id}", A),
    r("GET", "/v2/tasks", A),
    r("POST", "/v2/tasks", A),
    r("GET", "/v2/tasks/{task_id}", A),
    r("DELETE", "/v2/tasks/{task_id}", A),
    r("GET", "/v2/schemas/task", A),
    r("GET", "/v2/schemas/tasks", A),
    r("GET", "/v2/schemas/metadefs/namespace", A),
    r("GET", "/v2/schemas/metadefs/namespaces", A),
    r("GET", "/v2/schemas/metadefs/object", A),
    r("GET", "/v2/schemas/metadefs/objects", A),
    r("GET", "/v2/schemas/metadefs/properties", A),
    r("GET", "/v2/schemas/metadefs/property", A),
    r("GET", "/v2/schemas/metadefs/resource_type", A),
    r("GET", "/v2/schemas/metadefs/resource_types", A),
    r("GET", "/v2/schemas/metadefs/tag", A),
    r("GET", "/v2/schemas/metadefs/tags", A),
    r("GET", "/v2/metadefs/resource_types", A),
    r("GET", "/v2/metadefs/namespaces", A),
    r("POST", "/v2/metadefs/namespaces", A),
    r("GET", "/v2/metadefs/namespaces/{namespace_name}", A),
    r("PUT", "/v2/metadefs/namespaces/{namespace_name}", A),
    r("DELETE", "/v2/metadefs/namespaces/{namespace_name}", A),
    r("GET", "/v2/metadefs/namespaces/{namespace_name}/objects", A),
    r(
        "POST",
        "/v2/metadefs/namespaces/{namespace_name}/objects",
        A,
    ),
    r(
        "DELETE",
        "/v2/metadefs/namespaces/{namespace_name}/objects",
        A,
    ),
    r(
        "GET",
        "/v2/metadefs/namespaces/{namespace_name}/objects/{object_name}",
        A,
    ),
    r(
        "PUT",
        "/v2/metadefs/namespaces/{namespace_name}/objects/{object_name}",
        A,
    ),
    r(
        "DELETE",
        "/v2/metadefs/namespaces/{namespace_name}/objects/{object_name}",
        A,
    ),
    r(
        "GET",
        "/v2/metadefs/namespaces/{namespace_name}/properties",
        A,
    ),
    r(
        "POST",
        "/v2/metadefs/namespaces/{namespace_name}/properties",
        A,
    ),
    r(
        "DELETE",
        "/v2/metadefs/namespaces/{namespace_name}/properties",
        A,
    ),
    r(
        "GET",
        "/v2/metadefs/namespaces/{namespace_name}/properties/{property_name}",
        A,
    ),
    r(
        "PUT",
        "/v2/metadefs/namespaces/{namespace_name}/properties/{property_name}",
        A,
    ),
    r(
        "DELETE",
        "/v2/metadefs/namespaces/{namespace_name}/properties/{property_name}",
        A,
    ),
    r(
        "GET",
        "/v2/metadefs/namespaces/{namespace_name}/resource_types",
        A,
    ),
    r(
        "POST",
        "/v2/metadefs/namespaces/{namespace_name}/resource_types",
        A,
    ),
    r(
        "DELETE",
        "/v2/metadefs/namespaces/{namespace_name}/resource_types/{resource_type}",
        A,
    ),
    r("GET", "/v2/metadefs/namespaces/{namespace_name}/tags", A),
    r("POST", "/v2/metadefs/namespaces/{namespace_name}/tags", A),
    r("DELETE", "/v2/metadefs/namespaces/{namespace_name}/tags", A),
    r(
        "GET",
        "/v2/metadefs/namespaces/{namespace_name}/tags/{tag_name}",
        A,
    ),
    r(
        "POST",
        "/v2/metadefs/namespaces/{namespace_name}/tags/{tag_name}",
        A,
    ),
    r(
        "PUT",
        "/v2/metadefs/namespaces/{namespace_name}/tags/{tag_name}",
        A,
    ),
    r(
        "DELETE",
        "/v2/metadefs/namespaces/{namespace_name}/tags/{tag_name}",
        A,
    ),
];
