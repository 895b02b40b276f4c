//! Where the server-group, service, hypervisor, availability-zone and
//! instance-action routes are registered: one function, so `lib.rs`
//! changes by one line and the routes of these resources are listed in
//! one place beside their handlers' modules.

use super::{availability_zones, hypervisors, instance_actions, server_groups, services};
use crate::ComputeState;
use axum::routing::{get, put};
use axum::Router;
use std::sync::Arc;

/// Add the routes of `os-server-groups`, `os-services`, `os-hypervisors`,
/// `os-availability-zone` and `servers/{id}/os-instance-actions`. Their
/// paths are in [`crate::policy::BUILT_PATHS`], so the 501 router leaves
/// them alone.
pub fn add_admin_routes(router: Router<Arc<ComputeState>>) -> Router<Arc<ComputeState>> {
    router
        .route(
            "/v2.1/os-server-groups",
            get(server_groups::list).post(server_groups::create),
        )
        .route(
            "/v2.1/os-server-groups/{server_group_id}",
            get(server_groups::show).delete(server_groups::delete),
        )
        .route("/v2.1/os-services", get(services::list))
        .route(
            "/v2.1/os-services/{service_id}",
            put(services::update).delete(services::delete),
        )
        .route("/v2.1/os-hypervisors", get(hypervisors::list))
        .route("/v2.1/os-hypervisors/detail", get(hypervisors::list_detail))
        .route(
            "/v2.1/os-hypervisors/statistics",
            get(hypervisors::statistics),
        )
        .route(
            "/v2.1/os-hypervisors/{hypervisor_id}",
            get(hypervisors::show),
        )
        .route(
            "/v2.1/os-hypervisors/{hypervisor_id}/uptime",
            get(hypervisors::uptime),
        )
        .route(
            "/v2.1/os-hypervisors/{hypervisor_id}/search",
            get(hypervisors::search),
        )
        .route(
            "/v2.1/os-hypervisors/{hypervisor_id}/servers",
            get(hypervisors::servers),
        )
        .route("/v2.1/os-availability-zone", get(availability_zones::list))
        .route(
            "/v2.1/os-availability-zone/detail",
            get(availability_zones::detail),
        )
        .route(
            "/v2.1/servers/{server_id}/os-instance-actions",
            get(instance_actions::list),
        )
        .route(
            "/v2.1/servers/{server_id}/os-instance-actions/{request_id}",
            get(instance_actions::show),
        )
}
