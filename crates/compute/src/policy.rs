//! The compute API's route table: every route of Nova v2.1, the rule it
//! needs and its handler. The router (`lib.rs`) and the policy table are
//! both made from it, so neither can name a route the other lacks.
//!
//! Rows whose handler is `unbuilt` are the Nova APIs not built yet: they
//! answer 501 `notImplemented` after authentication, never a 404 that
//! would read as "no such server". Unbuilt routes need only a valid token:
//! their real rule arrives with their handler. Every path but `/` passes
//! the microversion layer.
//!
//! The built rows follow Nova's default policies, with one deliberate
//! difference: another project's quota, server group or server is "not
//! found" (404) rather than "forbidden" (403), so a token cannot probe
//! which ids exist.

use crate::error::ComputeError;
use crate::routes::{
    aggregates, availability_zones, diagnostics, extensions, external_events, extra_specs,
    flavor_access, flavors, floating_ips, hosts, hypervisors, images, instance_actions, interfaces,
    keypairs, limits, migrations, network_proxies, quota_classes, quota_sets, security_groups,
    server_actions, server_groups, server_tags, servers as server_routes, services, usage,
    versions, volume_attachments, volume_proxy,
};
use crate::ComputeState;
use ferrostack_policy::Rule;
use ferrostack_policy::Rule::{Admin, Authenticated, ProjectMember, ProjectReader, Public};
use std::sync::Arc;

const A: Rule = Authenticated;

/// The handler of every route not built yet.
async fn unbuilt() -> ComputeError {
    ComputeError::NotImplemented("This compute API is not implemented by ferrostack yet.".into())
}

ferrostack_policy::route_table! {
    /// Every compute route and its rule.
    pub const RULES;
    /// The handlers of a path of [`RULES`].
    pub fn handlers for Arc<ComputeState>;
    // Version discovery.
    .route("/", get(Public, versions::root))
    .route("/v2.1", get(Public, versions::v2_1))
    .route("/v2.1/", get(Public, versions::v2_1))
    // Quotas: show and detail for the project's readers (the handler sends
    // other projects to 404), defaults for anyone, changes for admins.
    .route(
        "/v2.1/os-quota-sets/{project_id}",
        get(ProjectReader, quota_sets::show)
            .put(Admin, quota_sets::update)
            .delete(Admin, quota_sets::delete)
    )
    .route("/v2.1/os-quota-sets/{project_id}/defaults", get(Authenticated, quota_sets::defaults))
    .route("/v2.1/os-quota-sets/{project_id}/detail", get(ProjectReader, quota_sets::detail))
    .route(
        "/v2.1/os-quota-class-sets/{id}",
        get(Admin, quota_classes::show)
            .put(Admin, quota_classes::update)
    )
    // Limits of the caller's project; `?tenant_id=` is checked for admin in the handler.
    .route("/v2.1/limits", get(Authenticated, limits::show))
    // Flavors: anyone reads what they may see (private flavors only with
    // access; the handler answers 404 otherwise), admins change them.
    .route("/v2.1/flavors", get(Authenticated, flavors::list).post(Admin, flavors::create))
    .route("/v2.1/flavors/detail", get(Authenticated, flavors::list_detail))
    .route(
        "/v2.1/flavors/{flavor_id}",
        get(Authenticated, flavors::show)
            .put(Admin, flavors::update)
            .delete(Admin, flavors::delete)
    )
    .route("/v2.1/flavors/{flavor_id}/action", post(Admin, flavor_access::action))
    .route("/v2.1/flavors/{flavor_id}/os-flavor-access", get(Admin, flavor_access::list))
    .route(
        "/v2.1/flavors/{flavor_id}/os-extra_specs",
        get(Authenticated, extra_specs::list)
            .post(Admin, extra_specs::create)
    )
    .route(
        "/v2.1/flavors/{flavor_id}/os-extra_specs/{key}",
        get(Authenticated, extra_specs::show)
            .put(Admin, extra_specs::update)
            .delete(Admin, extra_specs::delete)
    )
    // Key pairs: the caller's own; `user_id` (2.10+) for admins, checked
    // in the handler.
    .route(
        "/v2.1/os-keypairs",
        get(Authenticated, keypairs::list)
            .post(Authenticated, keypairs::create)
    )
    .route(
        "/v2.1/os-keypairs/{keypair_name}",
        get(Authenticated, keypairs::show)
            .delete(Authenticated, keypairs::delete)
    )
    // Servers: readers see, members change; the handler sends another
    // project's server to 404.
    .route(
        "/v2.1/servers",
        get(ProjectReader, server_routes::list)
            .post(ProjectMember, server_routes::create)
    )
    .route("/v2.1/servers/detail", get(ProjectReader, server_routes::list_detail))
    .route(
        "/v2.1/servers/{server_id}",
        get(ProjectReader, server_routes::show)
            .put(ProjectMember, server_routes::update)
            .delete(ProjectMember, server_routes::delete)
    )
    .route("/v2.1/servers/{server_id}/action", post(ProjectMember, server_actions::action))
    // `os-volumes_boot`: Nova's legacy alias of `/servers` (clients that
    // booted from volume before block device mappings joined `/servers`).
    .route(
        "/v2.1/os-volumes_boot",
        get(ProjectReader, server_routes::list)
            .post(ProjectMember, server_routes::create)
    )
    .route("/v2.1/os-volumes_boot/detail", get(ProjectReader, server_routes::list_detail))
    .route(
        "/v2.1/os-volumes_boot/{server_id}",
        get(ProjectReader, server_routes::show)
            .put(ProjectMember, server_routes::update)
            .delete(ProjectMember, server_routes::delete)
    )
    .route(
        "/v2.1/servers/{server_id}/metadata",
        get(ProjectReader, server_actions::metadata_list)
            .put(ProjectMember, server_actions::metadata_replace)
            .post(ProjectMember, server_actions::metadata_merge)
    )
    .route(
        "/v2.1/servers/{server_id}/metadata/{key}",
        get(ProjectReader, server_actions::metadata_show)
            .put(ProjectMember, server_actions::metadata_put)
            .delete(ProjectMember, server_actions::metadata_delete)
    )
    .route("/v2.1/servers/{server_id}/ips", get(ProjectReader, server_actions::ips))
    .route(
        "/v2.1/servers/{server_id}/ips/{network_label}",
        get(ProjectReader, server_actions::ips_by_network)
    )
    // Server groups: the caller's project's (the handler sends other
    // projects' to 404); readers list and show, members create and delete.
    .route(
        "/v2.1/os-server-groups",
        get(ProjectReader, server_groups::list)
            .post(ProjectMember, server_groups::create)
    )
    .route(
        "/v2.1/os-server-groups/{server_group_id}",
        get(ProjectReader, server_groups::show)
            .delete(ProjectMember, server_groups::delete)
    )
    // Services and hypervisors: admins only.
    .route("/v2.1/os-services", get(Admin, services::list))
    .route(
        "/v2.1/os-services/{service_id}",
        put(Admin, services::update)
            .delete(Admin, services::delete)
    )
    .route("/v2.1/os-hypervisors", get(Admin, hypervisors::list))
    .route("/v2.1/os-hypervisors/detail", get(Admin, hypervisors::list_detail))
    .route("/v2.1/os-hypervisors/statistics", get(Admin, hypervisors::statistics))
    .route("/v2.1/os-hypervisors/{hypervisor_id}", get(Admin, hypervisors::show))
    .route("/v2.1/os-hypervisors/{hypervisor_id}/uptime", get(Admin, hypervisors::uptime))
    .route("/v2.1/os-hypervisors/{hypervisor_id}/search", get(Admin, hypervisors::search))
    .route("/v2.1/os-hypervisors/{hypervisor_id}/servers", get(Admin, hypervisors::servers))
    // Availability zones: anyone lists them, admins see hosts and services.
    .route("/v2.1/os-availability-zone", get(Authenticated, availability_zones::list))
    .route("/v2.1/os-availability-zone/detail", get(Admin, availability_zones::detail))
    // Instance actions of a server the caller's project owns (checked in
    // the handler; another project's server is 404).
    .route(
        "/v2.1/servers/{server_id}/os-instance-actions",
        get(ProjectReader, instance_actions::list)
    )
    .route(
        "/v2.1/servers/{server_id}/os-instance-actions/{request_id}",
        get(ProjectReader, instance_actions::show)
    )
    // Interfaces of a server the caller's project owns (checked in the
    // handler; another project's server is 404): readers list and show,
    // members attach and detach.
    .route(
        "/v2.1/servers/{server_id}/os-interface",
        get(ProjectReader, interfaces::list)
            .post(ProjectMember, interfaces::create)
    )
    .route(
        "/v2.1/servers/{server_id}/os-volume_attachments",
        get(ProjectReader, volume_attachments::list)
            .post(ProjectMember, volume_attachments::create)
    )
    .route(
        "/v2.1/servers/{server_id}/os-volume_attachments/{volume_id}",
        get(ProjectReader, volume_attachments::show)
            .put(Admin, volume_attachments::update)
            .delete(ProjectMember, volume_attachments::delete)
    )
    .route(
        "/v2.1/servers/{server_id}/os-interface/{port_id}",
        get(ProjectReader, interfaces::show)
            .delete(ProjectMember, interfaces::delete)
    )
    // Host aggregates: admins only.
    .route("/v2.1/os-aggregates", get(Admin, aggregates::list).post(Admin, aggregates::create))
    .route(
        "/v2.1/os-aggregates/{aggregate_id}",
        get(Admin, aggregates::show)
            .put(Admin, aggregates::update)
            .delete(Admin, aggregates::delete)
    )
    .route("/v2.1/os-aggregates/{aggregate_id}/action", post(Admin, aggregates::action))
    // Nova's fixed extension list: anyone with a token.
    .route("/v2.1/extensions", get(A, extensions::list))
    .route("/v2.1/extensions/{alias}", get(A, extensions::show))
    // os-hosts (to 2.42): admins only.
    .route("/v2.1/os-hosts", get(Admin, hosts::list))
    .route("/v2.1/os-hosts/{host_name}", get(Admin, hosts::show).put(Admin, hosts::update))
    .route("/v2.1/os-hosts/{host_name}/startup", get(Admin, hosts::power_action))
    .route("/v2.1/os-hosts/{host_name}/shutdown", get(Admin, hosts::power_action))
    .route("/v2.1/os-hosts/{host_name}/reboot", get(Admin, hosts::power_action))
    // Usage: admins list every project's, a project's readers see its own.
    .route("/v2.1/os-simple-tenant-usage", get(Admin, usage::list))
    .route("/v2.1/os-simple-tenant-usage/{tenant_id}", get(ProjectReader, usage::show))
    .route("/v2.1/os-instance_usage_audit_log", get(Admin, usage::audit_list))
    .route("/v2.1/os-instance_usage_audit_log/{before_timestamp}", get(Admin, usage::audit_show))
    // External events: admins and the `service` role (checked in the handler).
    .route("/v2.1/os-server-external-events", post(Authenticated, external_events::create))
    // Migrations (resizes): admins.
    .route("/v2.1/os-migrations", get(Admin, migrations::list))
    .route("/v2.1/servers/{server_id}/migrations", get(Admin, migrations::server_list))
    .route("/v2.1/servers/{server_id}/diagnostics", get(Admin, diagnostics::show))
    // Images proxy (to 2.35): anyone with a token; the image service
    // applies its own rules to the caller's token.
    .route("/v2.1/images", get(A, images::list))
    .route("/v2.1/images/detail", get(A, images::list_detail))
    .route("/v2.1/images/{image_id}", get(A, images::show).delete(A, images::delete))
    .route(
        "/v2.1/images/{image_id}/metadata",
        get(A, images::metadata_list)
            .put(A, images::metadata_replace)
            .post(A, images::metadata_merge)
    )
    .route(
        "/v2.1/images/{image_id}/metadata/{key}",
        get(A, images::metadata_show)
            .put(A, images::metadata_put)
            .delete(A, images::metadata_delete)
    )
    // Server tags (2.26+) and the password (empty): readers read,
    // members change; another project's server is 404 in the handler.
    .route(
        "/v2.1/servers/{server_id}/tags",
        get(ProjectReader, server_tags::list)
            .put(ProjectMember, server_tags::replace)
            .delete(ProjectMember, server_tags::delete_all)
    )
    .route(
        "/v2.1/servers/{server_id}/tags/{tag}",
        get(ProjectReader, server_tags::check)
            .put(ProjectMember, server_tags::add)
            .delete(ProjectMember, server_tags::delete)
    )
    .route(
        "/v2.1/servers/{server_id}/os-server-password",
        get(ProjectReader, server_tags::password)
            .delete(ProjectMember, server_tags::clear_password)
    )
    // Network proxies (to 2.35; 404 from 2.36 in the handlers): readers
    // read, members change; the network service keeps other projects'
    // groups out of sight (404). The server's groups are at every version.
    .route(
        "/v2.1/os-security-groups",
        get(ProjectReader, security_groups::list)
            .post(ProjectMember, security_groups::create)
    )
    .route(
        "/v2.1/os-security-groups/{security_group_id}",
        get(ProjectReader, security_groups::show)
            .put(ProjectMember, security_groups::update)
            .delete(ProjectMember, security_groups::delete)
    )
    .route("/v2.1/os-security-group-rules", post(ProjectMember, security_groups::create_rule))
    .route(
        "/v2.1/os-security-group-rules/{security_group_rule_id}",
        delete(ProjectMember, security_groups::delete_rule)
    )
    .route(
        "/v2.1/servers/{server_id}/os-security-groups",
        get(ProjectReader, security_groups::server_list)
    )
    .route(
        "/v2.1/os-floating-ips",
        get(ProjectReader, floating_ips::list)
            .post(ProjectMember, floating_ips::create)
    )
    .route(
        "/v2.1/os-floating-ips/{floating_ip_id}",
        get(ProjectReader, floating_ips::show)
            .delete(ProjectMember, floating_ips::delete)
    )
    .route("/v2.1/os-floating-ip-pools", get(ProjectReader, floating_ips::pools))
    // Networks: read-only; nova-network's actions are 410 Gone, as Nova.
    .route(
        "/v2.1/os-networks",
        get(ProjectReader, network_proxies::list)
            .post(Admin, network_proxies::removed)
    )
    .route("/v2.1/os-networks/add", post(Admin, network_proxies::removed))
    .route(
        "/v2.1/os-networks/{network_id}",
        get(ProjectReader, network_proxies::show)
            .delete(Admin, network_proxies::removed)
    )
    .route("/v2.1/os-networks/{network_id}/action", post(Admin, network_proxies::removed))
    .route(
        "/v2.1/os-tenant-networks",
        get(ProjectReader, network_proxies::tenant_list)
            .post(ProjectMember, network_proxies::removed)
    )
    .route(
        "/v2.1/os-tenant-networks/{network_id}",
        get(ProjectReader, network_proxies::tenant_show)
            .delete(ProjectMember, network_proxies::removed)
    )
    // Volume proxies (to 2.35): the caller's project's volumes and
    // snapshots; readers see, members change (Nova's defaults), and the
    // volume service applies its own rules to the caller.
    .route(
        "/v2.1/os-volumes",
        get(ProjectReader, volume_proxy::list_volumes)
            .post(ProjectMember, volume_proxy::create_volume)
    )
    .route("/v2.1/os-volumes/detail", get(ProjectReader, volume_proxy::list_volumes))
    .route(
        "/v2.1/os-volumes/{volume_id}",
        get(ProjectReader, volume_proxy::show_volume)
            .delete(ProjectMember, volume_proxy::delete_volume)
    )
    .route(
        "/v2.1/os-snapshots",
        get(ProjectReader, volume_proxy::list_snapshots)
            .post(ProjectMember, volume_proxy::create_snapshot)
    )
    .route("/v2.1/os-snapshots/detail", get(ProjectReader, volume_proxy::list_snapshots))
    .route(
        "/v2.1/os-snapshots/{snapshot_id}",
        get(ProjectReader, volume_proxy::show_snapshot)
            .delete(ProjectMember, volume_proxy::delete_snapshot)
    )
    // ---- Not built yet: 501 after authentication.
    // Servers.
    .route("/v2.1/servers/{server_id}/remote-consoles", post(A, unbuilt))
    .route(
        "/v2.1/servers/{server_id}/migrations/{migration_id}",
        get(A, unbuilt)
            .delete(A, unbuilt)
    )
    .route("/v2.1/servers/{server_id}/migrations/{migration_id}/action", post(A, unbuilt))
    .route("/v2.1/servers/{server_id}/topology", get(A, unbuilt))
    .route("/v2.1/servers/{server_id}/shares", get(A, unbuilt).post(A, unbuilt))
    .route("/v2.1/servers/{server_id}/shares/{share_id}", get(A, unbuilt).delete(A, unbuilt))
    // Administration.
    .route("/v2.1/os-aggregates/{aggregate_id}/images", post(A, unbuilt))
    .route("/v2.1/os-console-auth-tokens/{console_token}", get(A, unbuilt))
    .route("/v2.1/os-assisted-volume-snapshots", post(A, unbuilt))
    .route("/v2.1/os-assisted-volume-snapshots/{snapshot_id}", delete(A, unbuilt))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn no_route_is_listed_twice() {
        let mut seen = HashSet::new();
        for rule in RULES {
            assert!(
                seen.insert((rule.method, rule.path)),
                "{} {} listed twice",
                rule.method,
                rule.path
            );
        }
    }

    #[test]
    fn every_row_has_its_handlers() {
        for rule in RULES {
            assert!(
                handlers(rule.path).is_some(),
                "{} has no handler",
                rule.path
            );
        }
    }
}
