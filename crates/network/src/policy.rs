//! The network API's route table: every route served, its rule and its
//! handler (the router and the policy table are both made from it).
//!
//! Networks, subnets and ports need any valid token here: which project's
//! resources a caller may see or change (Neutron's owner rules, shared
//! and external networks, admin-only attributes) is decided by the
//! handlers, which know the resource (see `attrs`).
//!
//! Routers and their actions are for the project's members to write and
//! readers to read (the handlers send other projects' to 404 and check
//! the admin-only gateway attributes). Floating IPs follow the security
//! groups' rows: readers list and show, members write, and the handlers
//! send other projects' to 404.
//!
//! Every other path of the network API (port forwardings, QoS, ...) is
//! not built yet and falls into the catch-all route [`UNBUILT`], whose
//! rows below need a valid token: 401 without one, as keystonemiddleware
//! answers in front of Neutron, then 501. It goes through the policy
//! layer as any route does (see [`ferrostack_policy::unbuilt`]), rather
//! than through a fallback that would validate the token by itself; and
//! it is one route rather than a row per Neutron path until those APIs
//! are built and need rules of their own.

use crate::security_groups::{groups, rule_routes};
use crate::{
    availability, extensions, floating_ips_api, networks, not_implemented, ports_api, quotas,
    resources, router_interfaces, routers, subnets, tags, versions, zones, NetworkState,
};
use ferrostack_policy::Rule::{Admin, Authenticated, ProjectMember, ProjectReader, Public};
use ferrostack_policy::UNBUILT;
use std::sync::Arc;

ferrostack_policy::route_table! {
    /// Every network route and its rule.
    pub const RULES;
    /// The handlers of a path of [`RULES`].
    pub fn handlers for Arc<NetworkState>;
    .route("/", get(Public, versions))
    .route("/v2.0", get(Authenticated, resources))
    .route("/v2.0/", get(Authenticated, resources))
    .route("/v2.0/extensions", get(Authenticated, extensions::list))
    .route("/v2.0/extensions/{alias}", get(Authenticated, extensions::show))
    // Listing every project's quota is for admins; one project's quota is
    // for its readers (the handler sends other projects to 404).
    .route("/v2.0/quotas", get(Admin, quotas::list))
    .route(
        "/v2.0/quotas/{project_id}",
        get(ProjectReader, quotas::show)
            .put(Admin, quotas::update)
            .delete(Admin, quotas::delete)
    )
    .route("/v2.0/quotas/{project_id}/default", get(ProjectReader, quotas::default))
    .route("/v2.0/quotas/{project_id}/details", get(ProjectReader, quotas::details))
    // Security groups and rules: readers list and show, members write;
    // the handlers send other projects' to 404.
    .route(
        "/v2.0/security-groups",
        get(ProjectReader, groups::list_groups).post(ProjectMember, groups::create_group)
    )
    .route(
        "/v2.0/security-groups/{id}",
        get(ProjectReader, groups::show_group)
            .put(ProjectMember, groups::update_group)
            .delete(ProjectMember, groups::delete_group)
    )
    .route(
        "/v2.0/security-group-rules",
        get(ProjectReader, rule_routes::list_rules).post(ProjectMember, rule_routes::create_rule)
    )
    .route(
        "/v2.0/security-group-rules/{id}",
        get(ProjectReader, rule_routes::show_rule)
            .put(ProjectMember, rule_routes::update_rule)
            .delete(ProjectMember, rule_routes::delete_rule)
    )
    .route(
        "/v2.0/networks",
        get(Authenticated, networks::list).post(Authenticated, networks::create)
    )
    .route(
        "/v2.0/networks/{id}",
        get(Authenticated, networks::show)
            .put(Authenticated, networks::update)
            .delete(Authenticated, networks::delete)
    )
    .route(
        "/v2.0/subnets",
        get(Authenticated, subnets::list).post(Authenticated, subnets::create)
    )
    .route(
        "/v2.0/subnets/{id}",
        get(Authenticated, subnets::show)
            .put(Authenticated, subnets::update)
            .delete(Authenticated, subnets::delete)
    )
    .route(
        "/v2.0/ports",
        get(Authenticated, ports_api::list).post(Authenticated, ports_api::create)
    )
    .route(
        "/v2.0/ports/{id}",
        get(Authenticated, ports_api::show)
            .put(Authenticated, ports_api::update)
            .delete(Authenticated, ports_api::delete)
    )
    .route(
        "/v2.0/networks/{id}/tags",
        get(Authenticated, tags::network::list)
            .put(Authenticated, tags::network::replace)
            .delete(Authenticated, tags::network::clear)
    )
    .route(
        "/v2.0/networks/{id}/tags/{tag}",
        get(Authenticated, tags::network::check)
            .put(Authenticated, tags::network::add)
            .delete(Authenticated, tags::network::remove)
    )
    .route(
        "/v2.0/subnets/{id}/tags",
        get(Authenticated, tags::subnet::list)
            .put(Authenticated, tags::subnet::replace)
            .delete(Authenticated, tags::subnet::clear)
    )
    .route(
        "/v2.0/subnets/{id}/tags/{tag}",
        get(Authenticated, tags::subnet::check)
            .put(Authenticated, tags::subnet::add)
            .delete(Authenticated, tags::subnet::remove)
    )
    .route(
        "/v2.0/ports/{id}/tags",
        get(Authenticated, tags::port::list)
            .put(Authenticated, tags::port::replace)
            .delete(Authenticated, tags::port::clear)
    )
    .route(
        "/v2.0/ports/{id}/tags/{tag}",
        get(Authenticated, tags::port::check)
            .put(Authenticated, tags::port::add)
            .delete(Authenticated, tags::port::remove)
    )
    .route(
        "/v2.0/routers",
        get(ProjectReader, routers::list).post(ProjectMember, routers::create)
    )
    .route(
        "/v2.0/routers/{id}",
        get(ProjectReader, routers::show)
            .put(ProjectMember, routers::update)
            .delete(ProjectMember, routers::delete)
    )
    .route(
        "/v2.0/routers/{id}/add_router_interface",
        put(ProjectMember, router_interfaces::add)
    )
    .route(
        "/v2.0/routers/{id}/remove_router_interface",
        put(ProjectMember, router_interfaces::remove)
    )
    .route(
        "/v2.0/routers/{id}/add_extraroutes",
        put(ProjectMember, router_interfaces::add_routes)
    )
    .route(
        "/v2.0/routers/{id}/remove_extraroutes",
        put(ProjectMember, router_interfaces::remove_routes)
    )
    .route(
        "/v2.0/routers/{id}/tags",
        get(Authenticated, tags::router::list)
            .put(Authenticated, tags::router::replace)
            .delete(Authenticated, tags::router::clear)
    )
    .route(
        "/v2.0/routers/{id}/tags/{tag}",
        get(Authenticated, tags::router::check)
            .put(Authenticated, tags::router::add)
            .delete(Authenticated, tags::router::remove)
    )
    .route(
        "/v2.0/floatingips",
        get(ProjectReader, floating_ips_api::list).post(ProjectMember, floating_ips_api::create)
    )
    .route(
        "/v2.0/floatingips/{id}",
        get(ProjectReader, floating_ips_api::show)
            .put(ProjectMember, floating_ips_api::update)
            .delete(ProjectMember, floating_ips_api::delete)
    )
    .route("/v2.0/floatingip_pools", get(Authenticated, floating_ips_api::pools))
    .route(
        "/v2.0/floatingips/{id}/tags",
        get(ProjectReader, tags::floatingip::list)
            .put(ProjectMember, tags::floatingip::replace)
            .delete(ProjectMember, tags::floatingip::clear)
    )
    .route(
        "/v2.0/floatingips/{id}/tags/{tag}",
        get(ProjectReader, tags::floatingip::check)
            .put(ProjectMember, tags::floatingip::add)
            .delete(ProjectMember, tags::floatingip::remove)
    )
    .route("/v2.0/availability_zones", get(Authenticated, zones::list))
    .route("/v2.0/network-ip-availabilities", get(Admin, availability::list))
    .route(
        "/v2.0/network-ip-availabilities/{network_id}",
        get(Admin, availability::show)
    )
    .route(
        UNBUILT,
        get(Authenticated, not_implemented)
            .post(Authenticated, not_implemented)
            .put(Authenticated, not_implemented)
            .patch(Authenticated, not_implemented)
            .delete(Authenticated, not_implemented)
    )
}
