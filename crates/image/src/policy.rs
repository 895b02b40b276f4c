//! The image API's route table: every route of Glance v2, the rule it
//! needs and its handler; the router and the policy table are both made
//! from it.
//!
//! Routes not built yet are rows whose handler is `unbuilt` (501 after
//! authentication). Built image routes need a valid token; the
//! handlers finish the check against the image (owner, visibility,
//! membership), answering 404 for images the caller may not see and 403
//! for visible images the caller may not change, as Glance does.
//! Creating an image needs `member` on the token's project. Metadata
//! definition writes need `admin` ([`crate::metadefs`]).

use crate::error::ImageError;
use crate::metadefs as md;
use crate::routes::{actions, file, images, info, interop, members, schemas, tags, tasks};
use crate::{root, version_list, ImageState};
use axum::extract::DefaultBodyLimit;
use axum::handler::Handler;
use ferrostack_policy::Rule;
use ferrostack_policy::Rule::{Admin, Authenticated, ProjectMember, Public};
use std::sync::Arc;

const A: Rule = Authenticated;

/// The handler of every route not built yet.
async fn unbuilt() -> ImageError {
    ImageError::NotImplemented("This image API is not implemented by ferrostack yet.".into())
}

ferrostack_policy::route_table! {
    /// Every image route and its rule.
    pub const RULES;
    /// The handlers of a path of [`RULES`].
    pub fn handlers for Arc<ImageState>;
    // Version discovery.
    .route("/", get(Public, root))
    .route("/versions", get(Public, version_list))
    // Images: the handler decides per image.
    .route("/v2/images", get(A, images::list).post(ProjectMember, images::create))
    .route(
        "/v2/images/{image_id}",
        get(A, images::show).patch(A, images::update).delete(A, images::delete)
    )
    // The upload streams to disk; it has no body limit of its own (the
    // image size limit stops it).
    .route(
        "/v2/images/{image_id}/file",
        put(A, file::upload.layer(DefaultBodyLimit::disable())).get(A, file::download)
    )
    .route("/v2/images/{image_id}/tags/{tag_value}", put(A, tags::add).delete(A, tags::remove))
    .route("/v2/images/{image_id}/members", get(A, members::list).post(A, members::create))
    .route(
        "/v2/images/{image_id}/members/{member_id}",
        get(A, members::show).put(A, members::update).delete(A, members::delete)
    )
    .route("/v2/images/{image_id}/actions/deactivate", post(A, actions::deactivate))
    .route("/v2/images/{image_id}/actions/reactivate", post(A, actions::reactivate))
    .route("/v2/images/{image_id}/tasks", get(A, actions::tasks))
    .route("/v2/schemas/image", get(A, schemas::image))
    .route("/v2/schemas/images", get(A, schemas::images))
    .route("/v2/schemas/member", get(A, schemas::member))
    .route("/v2/schemas/members", get(A, schemas::members))
    // Interoperable import: the staged body streams like an upload.
    .route(
        "/v2/images/{image_id}/stage",
        put(A, file::stage.layer(DefaultBodyLimit::disable()))
    )
    .route("/v2/images/{image_id}/import", post(A, interop::import))
    // Tasks: admin-only, Glance's default `tasks_api_access`.
    .route("/v2/tasks", get(Admin, tasks::list).post(Admin, tasks::create))
    .route("/v2/tasks/{task_id}", get(Admin, tasks::show).delete(Admin, tasks::delete))
    .route("/v2/schemas/task", get(A, tasks::task_schema))
    .route("/v2/schemas/tasks", get(A, tasks::tasks_schema))
    // ---- Not built yet: 501 after authentication.
    .route("/v2/images/{image_id}/locations", get(A, unbuilt).post(A, unbuilt))
    .route("/v2/info/import", get(A, info::import))
    .route("/v2/info/stores", get(A, info::stores))
    .route("/v2/info/stores/detail", get(A, info::stores))
    .route("/v2/info/usage", get(A, unbuilt))
    .route("/v2/stores/{store_id}/{image_id}", delete(A, unbuilt))
    .route("/v2/cache", get(A, unbuilt).delete(A, unbuilt))
    .route("/v2/cache/clean", post(A, unbuilt))
    .route("/v2/cache/nodes/{image_id}", get(A, unbuilt))
    .route("/v2/cache/prune", post(A, unbuilt))
    .route("/v2/cache/{image_id}", put(A, unbuilt).delete(A, unbuilt))
    // Metadata definitions: reads need a token (the handler hides other
    // projects' private namespaces); writes are admin-only, Glance's
    // default policy.
    .route("/v2/schemas/metadefs/namespace", get(A, md::schemas::namespace))
    .route("/v2/schemas/metadefs/namespaces", get(A, md::schemas::namespaces))
    .route("/v2/schemas/metadefs/object", get(A, md::schemas::object))
    .route("/v2/schemas/metadefs/objects", get(A, md::schemas::objects))
    .route("/v2/schemas/metadefs/properties", get(A, md::schemas::properties))
    .route("/v2/schemas/metadefs/property", get(A, md::schemas::property))
    .route("/v2/schemas/metadefs/resource_type", get(A, md::schemas::resource_type))
    .route("/v2/schemas/metadefs/resource_types", get(A, md::schemas::resource_types))
    .route("/v2/schemas/metadefs/tag", get(A, md::schemas::tag))
    .route("/v2/schemas/metadefs/tags", get(A, md::schemas::tags))
    .route("/v2/metadefs/resource_types", get(A, md::resource_types::list_types))
    .route(
        "/v2/metadefs/namespaces",
        get(A, md::namespaces::list).post(Admin, md::namespaces::create)
    )
    .route(
        "/v2/metadefs/namespaces/{namespace_name}",
        get(A, md::namespaces::show)
            .put(Admin, md::namespaces::update)
            .delete(Admin, md::namespaces::delete)
    )
    .route(
        "/v2/metadefs/namespaces/{namespace_name}/objects",
        get(A, md::objects::list)
            .post(Admin, md::objects::create)
            .delete(Admin, md::objects::delete_all)
    )
    .route(
        "/v2/metadefs/namespaces/{namespace_name}/objects/{object_name}",
        get(A, md::objects::show)
            .put(Admin, md::objects::update)
            .delete(Admin, md::objects::delete)
    )
    .route(
        "/v2/metadefs/namespaces/{namespace_name}/properties",
        get(A, md::properties::list)
            .post(Admin, md::properties::create)
            .delete(Admin, md::properties::delete_all)
    )
    .route(
        "/v2/metadefs/namespaces/{namespace_name}/properties/{property_name}",
        get(A, md::properties::show)
            .put(Admin, md::properties::update)
            .delete(Admin, md::properties::delete)
    )
    .route(
        "/v2/metadefs/namespaces/{namespace_name}/resource_types",
        get(A, md::resource_types::list)
            .post(Admin, md::resource_types::create)
    )
    .route(
        "/v2/metadefs/namespaces/{namespace_name}/resource_types/{resource_type}",
        delete(Admin, md::resource_types::delete)
    )
    .route(
        "/v2/metadefs/namespaces/{namespace_name}/tags",
        get(A, md::tags::list)
            .post(Admin, md::tags::create_many)
            .delete(Admin, md::tags::delete_all)
    )
    .route(
        "/v2/metadefs/namespaces/{namespace_name}/tags/{tag_name}",
        get(A, md::tags::show)
            .post(Admin, md::tags::create)
            .put(Admin, md::tags::update)
            .delete(Admin, md::tags::delete)
    )
}
