//! The block storage API's route table: every route served, its rule and
//! its handler (the router and the policy table are both made from it).
//!
//! Quota routes exist twice, as Cinder serves them: `/v3/os-quota-sets/...`
//! and the older `/v3/{admin_project_id}/os-quota-sets/...` that
//! cinderclient builds from a catalog URL ending in the project id. The
//! project in the prefix is the caller's own and is not used for anything.
//!
//! Volumes, snapshots, attachments, types, availability zones, services,
//! hosts, capabilities and pools have their rows below; reads need a reader of the project,
//! writes a member, type management, services and pools an admin (as
//! Cinder's default policies). Handlers finish the object checks (another
//! project's volume is 404, as in Cinder). Each path is written once,
//! without the project segment, which the router takes off first (see
//! [`crate::strip_project`]).
//!
//! Backups have their rows too (a member backs up and restores the
//! project's volumes; resetting a backup's state is an admin's), and QoS
//! specs (an admin's, as in Cinder), and volume transfers (a member of
//! the giving project offers, a member of any project accepts with the
//! key).
//!
//! Every other path of the block storage API (
//! groups, manage...) is not built yet and falls into the
//! catch-all route [`UNBUILT`]: its rows need a valid token, so an
//! anonymous caller gets 401 as from Cinder behind keystonemiddleware,
//! and only a valid token gets the 501. The catch-all is checked by the
//! policy layer like any route (see [`ferrostack_policy::unbuilt`]).

use crate::routes::{
    actions, attachments, backups, hosts, metadata, misc, qos, snapshots, transfers, types, volumes,
};
use crate::{limits, not_implemented, quotas, root, version, VolumeState};
use ferrostack_policy::Rule::{Admin, Authenticated, ProjectMember, ProjectReader, Public};
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
    .route("/v3/volumes", get(ProjectReader, volumes::list).post(ProjectMember, volumes::create))
    .route("/v3/volumes/detail", get(ProjectReader, volumes::detail))
    .route("/v3/volumes/summary", get(ProjectReader, volumes::summary))
    .route(
        "/v3/volumes/{volume_id}",
        get(ProjectReader, volumes::show)
            .put(ProjectMember, volumes::update)
            .delete(ProjectMember, volumes::delete)
    )
    .route("/v3/volumes/{volume_id}/action", post(ProjectMember, actions::act))
    .route(
        "/v3/volumes/{volume_id}/metadata",
        get(ProjectReader, metadata::show)
            .post(ProjectMember, metadata::merge)
            .put(ProjectMember, metadata::replace)
    )
    .route(
        "/v3/volumes/{volume_id}/metadata/{key}",
        get(ProjectReader, metadata::key_show)
            .put(ProjectMember, metadata::key_set)
            .delete(ProjectMember, metadata::key_delete)
    )
    .route("/v3/snapshots", get(ProjectReader, snapshots::list).post(ProjectMember, snapshots::create))
    .route("/v3/snapshots/detail", get(ProjectReader, snapshots::detail))
    .route("/v3/snapshots/{snapshot_id}/action", post(ProjectMember, snapshots::act))
    .route(
        "/v3/snapshots/{snapshot_id}",
        get(ProjectReader, snapshots::show)
            .put(ProjectMember, snapshots::update)
            .delete(ProjectMember, snapshots::delete)
    )
    .route(
        "/v3/snapshots/{snapshot_id}/metadata",
        get(ProjectReader, metadata::show)
            .post(ProjectMember, metadata::merge)
            .put(ProjectMember, metadata::replace)
    )
    .route(
        "/v3/snapshots/{snapshot_id}/metadata/{key}",
        get(ProjectReader, metadata::key_show)
            .put(ProjectMember, metadata::key_set)
            .delete(ProjectMember, metadata::key_delete)
    )
    .route(
        "/v3/attachments",
        get(ProjectReader, attachments::list).post(ProjectMember, attachments::create)
    )
    .route("/v3/attachments/detail", get(ProjectReader, attachments::detail))
    .route(
        "/v3/attachments/{attachment_id}",
        get(ProjectReader, attachments::show)
            .put(ProjectMember, attachments::update)
            .delete(ProjectMember, attachments::delete)
    )
    .route("/v3/attachments/{attachment_id}/action", post(ProjectMember, attachments::act))
    .route("/v3/types", get(ProjectReader, types::list).post(Admin, types::create))
    .route(
        "/v3/types/{type_id}",
        get(ProjectReader, types::show)
            .put(Admin, types::update)
            .delete(Admin, types::delete)
    )
    .route(
        "/v3/types/{type_id}/extra_specs",
        get(ProjectReader, types::specs_show).post(Admin, types::specs_set)
    )
    .route(
        "/v3/types/{type_id}/extra_specs/{key}",
        get(ProjectReader, types::spec_show)
            .put(Admin, types::spec_set)
            .delete(Admin, types::spec_delete)
    )
    .route("/v3/types/{type_id}/os-volume-type-access", get(Admin, types::access_list))
    .route("/v3/types/{type_id}/action", post(Admin, types::act))
    .route("/v3/backups", get(ProjectReader, backups::list).post(ProjectMember, backups::create))
    .route("/v3/backups/detail", get(ProjectReader, backups::detail))
    .route(
        "/v3/backups/{backup_id}",
        get(ProjectReader, backups::show).delete(ProjectMember, backups::delete)
    )
    .route("/v3/backups/{backup_id}/restore", post(ProjectMember, backups::restore))
    .route("/v3/backups/{backup_id}/action", post(Admin, backups::act))
    .route("/v3/qos-specs", get(Admin, qos::list).post(Admin, qos::create))
    .route(
        "/v3/qos-specs/{qos_id}",
        get(Admin, qos::show).put(Admin, qos::update).delete(Admin, qos::delete)
    )
    .route("/v3/qos-specs/{qos_id}/delete_keys", put(Admin, qos::delete_keys))
    .route("/v3/qos-specs/{qos_id}/associations", get(Admin, qos::associations))
    .route("/v3/qos-specs/{qos_id}/associate", get(Admin, qos::associate))
    .route("/v3/qos-specs/{qos_id}/disassociate", get(Admin, qos::disassociate))
    .route("/v3/qos-specs/{qos_id}/disassociate_all", get(Admin, qos::disassociate_all))
    .route("/v3/os-volume-transfer", get(ProjectReader, transfers::list).post(ProjectMember, transfers::create))
    .route("/v3/os-volume-transfer/detail", get(ProjectReader, transfers::detail))
    .route(
        "/v3/os-volume-transfer/{transfer_id}",
        get(ProjectReader, transfers::show).delete(ProjectMember, transfers::delete)
    )
    .route("/v3/os-volume-transfer/{transfer_id}/accept", post(ProjectMember, transfers::accept))
    .route("/v3/volume-transfers", get(ProjectReader, transfers::list).post(ProjectMember, transfers::create))
    .route("/v3/volume-transfers/detail", get(ProjectReader, transfers::detail))
    .route(
        "/v3/volume-transfers/{transfer_id}",
        get(ProjectReader, transfers::show).delete(ProjectMember, transfers::delete)
    )
    .route("/v3/volume-transfers/{transfer_id}/accept", post(ProjectMember, transfers::accept))
    .route("/v3/os-availability-zone", get(ProjectReader, misc::zones))
    .route("/v3/os-services", get(Admin, misc::services))
    .route("/v3/scheduler-stats/get_pools", get(Admin, misc::pools))
    .route("/v3/extensions", get(Authenticated, misc::extensions))
    .route(
        "/v3/volumes/",
        get(Authenticated, misc::empty_id)
            .put(Authenticated, misc::empty_id)
            .delete(Authenticated, misc::empty_id)
    )
    .route(
        "/v3/snapshots/",
        get(Authenticated, misc::empty_id)
            .put(Authenticated, misc::empty_id)
            .delete(Authenticated, misc::empty_id)
    )
    .route(
        "/v3/backups/",
        get(Authenticated, misc::empty_id)
            .put(Authenticated, misc::empty_id)
            .delete(Authenticated, misc::empty_id)
    )
    .route("/v3/os-hosts", get(Admin, hosts::list))
    .route("/v3/os-hosts/{host}", get(Admin, hosts::show))
    .route("/v3/capabilities/{host}", get(Admin, hosts::capabilities))
    .route(
        UNBUILT,
        get(Authenticated, not_implemented)
            .post(Authenticated, not_implemented)
            .put(Authenticated, not_implemented)
            .patch(Authenticated, not_implemented)
            .delete(Authenticated, not_implemented)
    )
}
