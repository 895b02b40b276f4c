//! Image records (Glance v2) and their members, and the [`ImageStore`]
//! trait the image service uses.
//!
//! The store keeps metadata only; image bytes live in the image service's
//! data store (a local directory now, RBD later). Tags and free-form
//! properties are JSON columns of the image row: they are always read and
//! written with the image, never queried on their own. The service loads
//! the candidate images and filters, sorts and pages them in memory with
//! Glance's rules, as the compute service does for flavors; an index-backed
//! query can replace [`ImageStore::list_images`] when image counts need it.
//!
//! Status changes that race (two uploads to one image) go through
//! [`ImageStore::transition_status`], a compare-and-set inside one write
//! transaction.

use crate::StoreResult;
use std::collections::BTreeMap;

/// An image as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Image {
    /// UUID.
    pub id: String,
    /// Display name (not unique).
    pub name: Option<String>,
    /// `queued`, `saving`, `active`, `killed`, `deleted`, `pending_delete`,
    /// `deactivated`, `uploading` or `importing`.
    pub status: String,
    /// `public`, `private`, `shared` or `community`.
    pub visibility: String,
    /// Owning project id.
    pub owner: Option<String>,
    /// A protected image cannot be deleted.
    pub protected: bool,
    /// Hidden from default lists.
    pub os_hidden: bool,
    /// `raw`, `qcow2`, ...
    pub disk_format: Option<String>,
    /// `bare`, `ovf`, ...
    pub container_format: Option<String>,
    /// Bytes of data, once uploaded.
    pub size: Option<i64>,
    /// Size of the disk the data describes, once inspected.
    pub virtual_size: Option<i64>,
    /// MD5 of the data, hex.
    pub checksum: Option<String>,
    /// `sha512` once data exists.
    pub os_hash_algo: Option<String>,
    /// Hex digest of the data with `os_hash_algo`.
    pub os_hash_value: Option<String>,
    /// Minimum disk in GiB to boot.
    pub min_disk: i64,
    /// Minimum RAM in MiB to boot.
    pub min_ram: i64,
    /// Tags, in insertion order, without duplicates.
    pub tags: Vec<String>,
    /// Free-form string properties.
    pub properties: BTreeMap<String, String>,
    /// Creation time, µs since the epoch.
    pub created_at: i64,
    /// Last update time, µs since the epoch.
    pub updated_at: i64,
}

/// A project an image is shared with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageMember {
    /// The image.
    pub image_id: String,
    /// The member project id.
    pub member_id: String,
    /// `pending`, `accepted` or `rejected`.
    pub status: String,
    /// Creation time, µs since the epoch.
    pub created_at: i64,
    /// Last update time, µs since the epoch.
    pub updated_at: i64,
}

/// The data fields set when an upload completes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageData {
    /// Bytes.
    pub size: i64,
    /// Virtual disk size from the inspection.
    pub virtual_size: i64,
    /// MD5, hex.
    pub checksum: String,
    /// Hash algorithm name (`sha512`).
    pub os_hash_algo: String,
    /// Hex digest.
    pub os_hash_value: String,
}

/// Stored image state.
pub trait ImageStore: ImageTaskStore + Send + Sync {
    /// Insert an image; `false` when the id is taken.
    fn create_image(&self, image: &Image) -> StoreResult<bool>;
    /// The image with `id`.
    fn get_image(&self, id: &str) -> StoreResult<Option<Image>>;
    /// Every image, in creation order.
    fn list_images(&self) -> StoreResult<Vec<Image>>;
    /// Replace an image's metadata (everything but id, status, created_at
    /// and the data fields, which only [`ImageStore::transition_status`]
    /// and [`ImageStore::finish_upload`] change, so a metadata update that
    /// races an upload cannot undo its status; nor the `os_glance_*`
    /// properties, which only [`ImageTaskStore`]'s transitions change). `disk_format` and
    /// `container_format` change only while the image is `queued`.
    /// `false` when absent.
    fn update_image(&self, image: &Image) -> StoreResult<bool>;
    /// Set `status` to `to` if it is one of `from`; returns the image as it
    /// was before (None when absent) and whether the change was made.
    fn transition_status(
        &self,
        id: &str,
        from: &[&str],
        to: &str,
        now: i64,
    ) -> StoreResult<Option<(Image, bool)>>;
    /// Record uploaded data and set `status`, if the image is `saving`;
    /// `false` otherwise (deleted meanwhile).
    fn finish_upload(
        &self,
        id: &str,
        data: &ImageData,
        status: &str,
        now: i64,
    ) -> StoreResult<bool>;
    /// Delete an image and its members; `false` when absent.
    fn delete_image(&self, id: &str) -> StoreResult<bool>;
    /// Members of an image, by member id.
    fn list_members(&self, image_id: &str) -> StoreResult<Vec<ImageMember>>;
    /// Every membership of `member_id`, across images.
    fn memberships(&self, member_id: &str) -> StoreResult<Vec<ImageMember>>;
    /// Add a member; `false` when it already is one.
    fn add_member(&self, member: &ImageMember) -> StoreResult<bool>;
    /// Change a member's status; `false` when it is not a member.
    fn set_member_status(
        &self,
        image_id: &str,
        member_id: &str,
        status: &str,
        now: i64,
    ) -> StoreResult<bool>;
    /// Remove a member; `false` when it was not one.
    fn delete_member(&self, image_id: &str, member_id: &str) -> StoreResult<bool>;
    /// Hold `bytes` more for `image_id`'s upload in `owner`'s size quota,
    /// if the sizes of the owner's stored images plus every upload's held
    /// bytes plus `bytes` stay within `limit`: one write transaction, so
    /// uploads racing on several controllers cannot together pass it.
    /// The bytes are a [`crate::quota::QuotaStore`] allocation (service
    /// `service`, resource `resource`, the image as consumer), released
    /// with the quota store's `release`. `Err(used)` (nothing held) when
    /// they do not fit.
    fn reserve_upload_bytes(&self, hold: &UploadHold<'_>) -> StoreResult<Result<(), u64>>;
}

/// What [`ImageStore::reserve_upload_bytes`] holds, and against what.
#[derive(Clone, Copy, Debug)]
pub struct UploadHold<'a> {
    /// The quota service of upload holds.
    pub service: &'a str,
    /// Their resource (bytes).
    pub resource: &'a str,
    /// The project whose quota it is.
    pub owner: &'a str,
    /// The image being uploaded (the allocation's consumer).
    pub image_id: &'a str,
    /// How many more bytes.
    pub bytes: u64,
    /// The project's `image_size_total`.
    pub limit: u64,
}

/// A Glance task: an image import (`api_image_import`) or a legacy
/// `/v2/tasks` task, with the request that started it.
#[derive(Clone, Debug, PartialEq)]
pub struct ImageTask {
    /// UUID.
    pub id: String,
    /// `api_image_import` or `import`.
    pub task_type: String,
    /// `pending`, `processing`, `success` or `failure`.
    pub status: String,
    /// The project that started it.
    pub owner: Option<String>,
    /// The image it acts on.
    pub image_id: Option<String>,
    /// The `x-openstack-request-id` of the request that started it.
    pub request_id: Option<String>,
    /// The user that started it.
    pub user_id: Option<String>,
    /// The request's input, as JSON.
    pub input: serde_json::Value,
    /// What it produced, as JSON (`None` until it ends).
    pub result: Option<serde_json::Value>,
    /// Why it failed ("" otherwise).
    pub message: String,
    /// When a finished task may be forgotten, µs since the epoch.
    pub expires_at: Option<i64>,
    /// µs since the epoch.
    pub created_at: i64,
    /// µs since the epoch.
    pub updated_at: i64,
}

/// The prefix of the properties the image service keeps for itself
/// (Glance's `os_glance_*` import bookkeeping).
pub const BOOKKEEPING_PREFIX: &str = "os_glance";

/// Properties to set (`Some`) or remove (`None`) with a status change.
pub type PropertyChanges<'a> = &'a [(&'a str, Option<&'a str>)];

/// Glance tasks, stored with the images they act on.
pub trait ImageTaskStore: Send + Sync {
    /// Record a new task. A taken id is a [`crate::StoreError::Conflict`].
    fn create_task(&self, task: &ImageTask) -> StoreResult<()>;
    /// One task.
    fn get_task(&self, id: &str) -> StoreResult<Option<ImageTask>>;
    /// Every task, oldest first.
    fn list_tasks(&self) -> StoreResult<Vec<ImageTask>>;
    /// The tasks of `image_id`, oldest first.
    fn tasks_of_image(&self, image_id: &str) -> StoreResult<Vec<ImageTask>>;
    /// Write back `status`, `result`, `message`, `expires_at` and
    /// `updated_at`; `false` when absent.
    fn update_task(&self, task: &ImageTask) -> StoreResult<bool>;
    /// [`ImageStore::transition_status`] that also applies `properties`
    /// (Glance's `os_glance_*` import bookkeeping) in the same transaction.
    fn transition_with_properties(
        &self,
        id: &str,
        from: &[&str],
        to: &str,
        properties: PropertyChanges<'_>,
        now: i64,
    ) -> StoreResult<Option<(Image, bool)>>;
    /// Record imported data, make the image `active` and apply
    /// `properties`, if the image is `importing`; `false` otherwise.
    fn finish_import(
        &self,
        id: &str,
        data: &ImageData,
        properties: PropertyChanges<'_>,
        now: i64,
    ) -> StoreResult<bool>;
}
