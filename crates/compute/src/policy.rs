//! The compute API's policy table: every route of Nova v2.1 and the rule
//! it needs.
//!
//! The table is also the route list. Routes with a handler are wired by
//! hand in `lib.rs`; every other row here is served by the 501 handler
//! (see `routes::unbuilt`), so a client calling a Nova API that is not
//! built yet gets `notImplemented` after authentication, never a 404 that
//! would read as "no such server". Unbuilt routes need only a valid token:
//! their real rule arrives with their handler.
//!
//! The built rows follow Nova's default policies, with one deliberate
//! difference: another project's quota, server group or server is "not
//! found" (404) rather than "forbidden" (403), so a token cannot probe
//! which ids exist.

use ferrostack_policy::Rule::{Admin, Authenticated, ProjectMember, ProjectReader, Public};
use ferrostack_policy::{RoutePolicy, Rule};

const fn r(method: &'static str, path: &'static str, rule: Rule) -> RoutePolicy {
    RoutePolicy { method, path, rule }
}

/// Paths whose handlers exist (every other path in [`RULES`] answers 501).
pub const BUILT_PATHS: &[&str] = &[
    "/",
    "/v2.1",
    "/v2.1/",
    "/v2.1/os-quota-sets/{project_id}",
    "/v2.1/os-quota-sets/{project_id}/defaults",
    "/v2.1/os-quota-sets/{project_id}/detail",
    "/v2.1/os-quota-class-sets/{id}",
    "/v2.1/limits",
    "/v2.1/flavors",
    "/v2.1/flavors/detail",
    "/v2.1/flavors/{flavor_id}",
    "/v2.1/flavors/{flavor_id}/action",
    "/v2.1/flavors/{flavor_id}/os-flavor-access",
    "/v2.1/flavors/{flavor_id}/os-extra_specs",
    "/v2.1/flavors/{flavor_id}/os-extra_specs/{key}",
    "/v2.1/os-keypairs",
    "/v2.1/os-keypairs/{keypair_name}",
    "/v2.1/servers",
    "/v2.1/servers/detail",
    "/v2.1/servers/{server_id}",
    "/v2.1/servers/{server_id}/action",
    "/v2.1/servers/{server_id}/metadata",
    "/v2.1/servers/{server_id}/metadata/{key}",
    "/v2.1/servers/{server_id}/ips",
    "/v2.1/os-server-groups",
    "/v2.1/os-server-groups/{server_group_id}",
    "/v2.1/os-services",
    "/v2.1/os-services/{service_id}",
    "/v2.1/os-hypervisors",
    "/v2.1/os-hypervisors/detail",
    "/v2.1/os-hypervisors/statistics",
    "/v2.1/os-hypervisors/{hypervisor_id}",
    "/v2.1/os-hypervisors/{hypervisor_id}/uptime",
    "/v2.1/os-hypervisors/{hypervisor_id}/search",
    "/v2.1/os-hypervisors/{hypervisor_id}/servers",
    "/v2.1/os-availability-zone",
    "/v2.1/os-availability-zone/detail",
    "/v2.1/servers/{server_id}/os-instance-actions",
    "/v2.1/servers/{server_id}/os-instance-actions/{request_id}",
];

const A: Rule = Authenticated;

/// Every compute route and its rule.
pub const RULES: &[RoutePolicy] = &[
    // Version discovery.
    r("GET", "/", Public),
    r("GET", "/v2.1", Public),
    r("GET", "/v2.1/", Public),
    // Quotas: show and detail for the project's readers (the handler sends
    // other projects to 404), defaults for anyone, changes for admins.
    r("GET", "/v2.1/os-quota-sets/{project_id}", ProjectReader),
    r("PUT", "/v2.1/os-quota-sets/{project_id}", Admin),
    r("DELETE", "/v2.1/os-quota-sets/{project_id}", Admin),
    r(
        "GET",
        "/v2.1/os-quota-sets/{project_id}/defaults",
        Authenticated,
    ),
    r(
        "GET",
        "/v2.1/os-quota-sets/{project_id}/detail",
        ProjectReader,
    ),
    r("GET", "/v2.1/os-quota-class-sets/{id}", Admin),
    r("PUT", "/v2.1/os-quota-class-sets/{id}", Admin),
    // Limits of the caller's project; `?tenant_id=` is checked for admin in the handler.
    r("GET", "/v2.1/limits", Authenticated),
    // Flavors: anyone reads what they may see (private flavors only with
    // access; the handler answers 404 otherwise), admins change them.
    r("GET", "/v2.1/flavors", Authenticated),
    r("POST", "/v2.1/flavors", Admin),
    r("GET", "/v2.1/flavors/detail", Authenticated),
    r("GET", "/v2.1/flavors/{flavor_id}", Authenticated),
    r("PUT", "/v2.1/flavors/{flavor_id}", Admin),
    r("DELETE", "/v2.1/flavors/{flavor_id}", Admin),
    r("POST", "/v2.1/flavors/{flavor_id}/action", Admin),
    r("GET", "/v2.1/flavors/{flavor_id}/os-flavor-access", Admin),
    r(
        "GET",
        "/v2.1/flavors/{flavor_id}/os-extra_specs",
        Authenticated,
    ),
    r("POST", "/v2.1/flavors/{flavor_id}/os-extra_specs", Admin),
    r(
        "GET",
        "/v2.1/flavors/{flavor_id}/os-extra_specs/{key}",
        Authenticated,
    ),
    r(
        "PUT",
        "/v2.1/flavors/{flavor_id}/os-extra_specs/{key}",
        Admin,
    ),
    r(
        "DELETE",
        "/v2.1/flavors/{flavor_id}/os-extra_specs/{key}",
        Admin,
    ),
    // Key pairs: the caller's own; `user_id` (2.10+) for admins, checked
    // in the handler.
    r("GET", "/v2.1/os-keypairs", Authenticated),
    r("POST", "/v2.1/os-keypairs", Authenticated),
    r("GET", "/v2.1/os-keypairs/{keypair_name}", Authenticated),
    r("DELETE", "/v2.1/os-keypairs/{keypair_name}", Authenticated),
    // Servers: readers see, members change; the handler sends another
    // project's server to 404.
    r("GET", "/v2.1/servers", ProjectReader),
    r("POST", "/v2.1/servers", ProjectMember),
    r("GET", "/v2.1/servers/detail", ProjectReader),
    r("GET", "/v2.1/servers/{server_id}", ProjectReader),
    r("PUT", "/v2.1/servers/{server_id}", ProjectMember),
    r("DELETE", "/v2.1/servers/{server_id}", ProjectMember),
    r("POST", "/v2.1/servers/{server_id}/action", ProjectMember),
    r("GET", "/v2.1/servers/{server_id}/metadata", ProjectReader),
    r("PUT", "/v2.1/servers/{server_id}/metadata", ProjectMember),
    r("POST", "/v2.1/servers/{server_id}/metadata", ProjectMember),
    r(
        "GET",
        "/v2.1/servers/{server_id}/metadata/{key}",
        ProjectReader,
    ),
    r(
        "PUT",
        "/v2.1/servers/{server_id}/metadata/{key}",
        ProjectMember,
    ),
    r(
        "DELETE",
        "/v2.1/servers/{server_id}/metadata/{key}",
        ProjectMember,
    ),
    r("GET", "/v2.1/servers/{server_id}/ips", ProjectReader),
    // Server groups: the caller's project's (the handler sends other
    // projects' to 404); readers list and show, members create and delete.
    r("GET", "/v2.1/os-server-groups", ProjectReader),
    r("POST", "/v2.1/os-server-groups", ProjectMember),
    r(
        "GET",
        "/v2.1/os-server-groups/{server_group_id}",
        ProjectReader,
    ),
    r(
        "DELETE",
        "/v2.1/os-server-groups/{server_group_id}",
        ProjectMember,
    ),
    // Services and hypervisors: admins only.
    r("GET", "/v2.1/os-services", Admin),
    r("PUT", "/v2.1/os-services/{service_id}", Admin),
    r("DELETE", "/v2.1/os-services/{service_id}", Admin),
    r("GET", "/v2.1/os-hypervisors", Admin),
    r("GET", "/v2.1/os-hypervisors/detail", Admin),
    r("GET", "/v2.1/os-hypervisors/statistics", Admin),
    r("GET", "/v2.1/os-hypervisors/{hypervisor_id}", Admin),
    r("GET", "/v2.1/os-hypervisors/{hypervisor_id}/uptime", Admin),
    r("GET", "/v2.1/os-hypervisors/{hypervisor_id}/search", Admin),
    r("GET", "/v2.1/os-hypervisors/{hypervisor_id}/servers", Admin),
    // Availability zones: anyone lists them, admins see hosts and services.
    r("GET", "/v2.1/os-availability-zone", Authenticated),
    r("GET", "/v2.1/os-availability-zone/detail", Admin),
    // Instance actions of a server the caller's project owns (checked in
    // the handler; another project's server is 404).
    r(
        "GET",
        "/v2.1/servers/{server_id}/os-instance-actions",
        ProjectReader,
    ),
    r(
        "GET",
        "/v2.1/servers/{server_id}/os-instance-actions/{request_id}",
        ProjectReader,
    ),
    // ---- Not built yet: 501 after authentication.
    // Servers.
    r("GET", "/v2.1/servers/{server_id}/ips/{network_label}", A),
    r("GET", "/v2.1/servers/{server_id}/os-interface", A),
    r("POST", "/v2.1/servers/{server_id}/os-interface", A),
    r("GET", "/v2.1/servers/{server_id}/os-interface/{port_id}", A),
    r(
        "DELETE",
        "/v2.1/servers/{server_id}/os-interface/{port_id}",
        A,
    ),
    r("GET", "/v2.1/servers/{server_id}/os-server-password", A),
    r("DELETE", "/v2.1/servers/{server_id}/os-server-password", A),
    r("GET", "/v2.1/servers/{server_id}/os-volume_attachments", A),
    r("POST", "/v2.1/servers/{server_id}/os-volume_attachments", A),
    r(
        "GET",
        "/v2.1/servers/{server_id}/os-volume_attachments/{volume_id}",
        A,
    ),
    r(
        "PUT",
        "/v2.1/servers/{server_id}/os-volume_attachments/{volume_id}",
        A,
    ),
    r(
        "DELETE",
        "/v2.1/servers/{server_id}/os-volume_attachments/{volume_id}",
        A,
    ),
    r("GET", "/v2.1/servers/{server_id}/os-security-groups", A),
    r("GET", "/v2.1/servers/{server_id}/diagnostics", A),
    r("POST", "/v2.1/servers/{server_id}/remote-consoles", A),
    r("GET", "/v2.1/servers/{server_id}/tags", A),
    r("PUT", "/v2.1/servers/{server_id}/tags", A),
    r("DELETE", "/v2.1/servers/{server_id}/tags", A),
    r("GET", "/v2.1/servers/{server_id}/tags/{tag}", A),
    r("PUT", "/v2.1/servers/{server_id}/tags/{tag}", A),
    r("DELETE", "/v2.1/servers/{server_id}/tags/{tag}", A),
    r("GET", "/v2.1/servers/{server_id}/migrations", A),
    r(
        "GET",
        "/v2.1/servers/{server_id}/migrations/{migration_id}",
        A,
    ),
    r(
        "DELETE",
        "/v2.1/servers/{server_id}/migrations/{migration_id}",
        A,
    ),
    r(
        "POST",
        "/v2.1/servers/{server_id}/migrations/{migration_id}/action",
        A,
    ),
    r("GET", "/v2.1/servers/{server_id}/topology", A),
    r("GET", "/v2.1/servers/{server_id}/shares", A),
    r("POST", "/v2.1/servers/{server_id}/shares", A),
    r("GET", "/v2.1/servers/{server_id}/shares/{share_id}", A),
    r("DELETE", "/v2.1/servers/{server_id}/shares/{share_id}", A),
    // Administration.
    r("GET", "/v2.1/os-aggregates", A),
    r("POST", "/v2.1/os-aggregates", A),
    r("GET", "/v2.1/os-aggregates/{aggregate_id}", A),
    r("PUT", "/v2.1/os-aggregates/{aggregate_id}", A),
    r("DELETE", "/v2.1/os-aggregates/{aggregate_id}", A),
    r("POST", "/v2.1/os-aggregates/{aggregate_id}/action", A),
    r("POST", "/v2.1/os-aggregates/{aggregate_id}/images", A),
    r("GET", "/v2.1/os-migrations", A),
    r("GET", "/v2.1/os-simple-tenant-usage", A),
    r("GET", "/v2.1/os-simple-tenant-usage/{tenant_id}", A),
    r("GET", "/v2.1/os-instance_usage_audit_log", A),
    r(
        "GET",
        "/v2.1/os-instance_usage_audit_log/{before_timestamp}",
        A,
    ),
    r("POST", "/v2.1/os-server-external-events", A),
    r("GET", "/v2.1/os-console-auth-tokens/{console_token}", A),
    r("POST", "/v2.1/os-assisted-volume-snapshots", A),
    r(
        "DELETE",
        "/v2.1/os-assisted-volume-snapshots/{snapshot_id}",
        A,
    ),
    r("GET", "/v2.1/extensions", A),
    r("GET", "/v2.1/extensions/{alias}", A),
    // Image proxy (to 2.35).
    r("GET", "/v2.1/images", A),
    r("GET", "/v2.1/images/detail", A),
    r("GET", "/v2.1/images/{image_id}", A),
    r("DELETE", "/v2.1/images/{image_id}", A),
    r("GET", "/v2.1/images/{image_id}/metadata", A),
    r("PUT", "/v2.1/images/{image_id}/metadata", A),
    r("POST", "/v2.1/images/{image_id}/metadata", A),
    r("GET", "/v2.1/images/{image_id}/metadata/{key}", A),
    r("PUT", "/v2.1/images/{image_id}/metadata/{key}", A),
    r("DELETE", "/v2.1/images/{image_id}/metadata/{key}", A),
    // Volume and network proxies (to 2.35).
    r("GET", "/v2.1/os-volumes", A),
    r("POST", "/v2.1/os-volumes", A),
    r("GET", "/v2.1/os-volumes/detail", A),
    r("GET", "/v2.1/os-volumes/{volume_id}", A),
    r("DELETE", "/v2.1/os-volumes/{volume_id}", A),
    r("GET", "/v2.1/os-snapshots", A),
    r("POST", "/v2.1/os-snapshots", A),
    r("GET", "/v2.1/os-snapshots/detail", A),
    r("GET", "/v2.1/os-snapshots/{snapshot_id}", A),
    r("DELETE", "/v2.1/os-snapshots/{snapshot_id}", A),
    r("GET", "/v2.1/os-floating-ips", A),
    r("POST", "/v2.1/os-floating-ips", A),
    r("GET", "/v2.1/os-floating-ips/{floating_ip_id}", A),
    r("DELETE", "/v2.1/os-floating-ips/{floating_ip_id}", A),
    r("GET", "/v2.1/os-floating-ip-pools", A),
    r("GET", "/v2.1/os-security-groups", A),
    r("POST", "/v2.1/os-security-groups", A),
    r("GET", "/v2.1/os-security-groups/{security_group_id}", A),
    r("PUT", "/v2.1/os-security-groups/{security_group_id}", A),
    r("DELETE", "/v2.1/os-security-groups/{security_group_id}", A),
    r("POST", "/v2.1/os-security-group-rules", A),
    r(
        "DELETE",
        "/v2.1/os-security-group-rules/{security_group_rule_id}",
        A,
    ),
    r("GET", "/v2.1/os-networks", A),
    r("GET", "/v2.1/os-networks/{network_id}", A),
    r("GET", "/v2.1/os-tenant-networks", A),
    r("GET", "/v2.1/os-tenant-networks/{network_id}", A),
    r("GET", "/v2.1/os-hosts", A),
    r("GET", "/v2.1/os-hosts/{host_name}", A),
];

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
    fn every_built_path_has_a_rule() {
        for path in BUILT_PATHS {
            assert!(RULES.iter().any(|r| r.path == *path), "{path} has no rule");
        }
    }
}
