//! The block storage API's route table: every route served, its rule and
//! its handler (the router and the policy table are both made from it).
//!
//! Quota routes exist twice, as Cinder serves them: `/v3/os-quota-sets/...`
//! and the older `/v3/{admin_project_id}/os-quota-sets/...` that
//! cinderclient builds from a catalog URL ending in the project id. The
//! project in the prefix is the caller's own and is not used for anything.
//!
//! Every other path of the block storage API (volumes, snapshots, types,
//! backups, ...) is not built yet and falls into the catch-all route
//! [`UNBUILT`]: its rows below need a valid token, so an anonymous caller
//! gets 401 as from Cinder behind keystonemiddleware, and only a valid
//! token gets the 501. The catch-all is checked by the policy layer like
//! any route (see [`ferrostack_policy::unbuilt`]), which is why it was
//! chosen over a token check of its own in a fallback handler; and over
//! one row per Cinder path, as compute has, because there is nothing yet
//! behind those paths to give different rules. Volumes get their rows
//! here when they are built.

use crate::{limits, not_implemented, quotas, root, version, VolumeState};
use ferrostack_policy::Rule::{Admin, Authenticated, ProjectReader, Public};
use ferrostack_policy::UNBUILT;
use std::sync::Arc;

ferrostack_policy::route_table! {
    /// Every block storage route and its rule.
    pub const RULES;
    /// The handlers of a path of [`RULES`].
    pub fn handlers for Arc<VolumeState>;
    .route("/", get(Public, root))
    .route("/v3", get(Public, version))
    .route("/v3/", get(Public, version))
    .route(
        "/v3/os-quota-sets/{project_id}",
        get(ProjectReader, quotas::show)
            .put(Admin, quotas::update)
            .delete(Admin, quotas::delete)
    )
    .route("/v3/os-quota-sets/{project_id}/defaults", get(ProjectReader, quotas::defaults))
    .route(
        "/v3/os-quota-class-sets/{class_name}",
        get(Admin, quotas::class_show).put(Admin, quotas::class_update)
    )
    .route("/v3/limits", get(Authenticated, limits::show))
    // The same, under the caller's project id.
    .route(
        "/v3/{admin_project_id}/os-quota-sets/{project_id}",
        get(ProjectReader, quotas::show)
            .put(Admin, quotas::update)
            .delete(Admin, quotas::delete)
    )
    .route(
        "/v3/{admin_project_id}/os-quota-sets/{project_id}/defaults",
        get(ProjectReader, quotas::defaults)
    )
    .route(
        "/v3/{admin_project_id}/os-quota-class-sets/{class_name}",
        get(Admin, quotas::class_show).put(Admin, quotas::class_update)
    )
    .route("/v3/{admin_project_id}/limits", get(Authenticated, limits::show))
    .route(
        UNBUILT,
        get(Authenticated, not_implemented)
            .post(Authenticated, not_implemented)
            .put(Authenticated, not_implemented)
            .patch(Authenticated, not_implemented)
            .delete(Authenticated, not_implemented)
    )
}
