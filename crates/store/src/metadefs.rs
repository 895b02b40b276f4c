//! Glance's metadata definitions catalog ("metadefs"): namespaces with
//! their objects, property definitions, tags and resource type
//! associations, and the [`MetadefStore`] trait the image service uses.
//!
//! A namespace is a small document that is always read and written whole
//! (the show answer embeds all of it, and every change to a part is a
//! change of the namespace), so a namespace is one row: its name (the
//! key), the columns a list filters on (owner, visibility, protected) and
//! its parts as one JSON column. That makes every change one
//! read-modify-write of one row inside one write transaction: a namespace
//! created with embedded objects, properties and tags is created whole or
//! not at all, and two admins changing objects of one namespace cannot
//! lose each other's change. Glance's own schema spreads this over five
//! tables, which its API then has to clean up by hand when a create fails
//! half-way.
//!
//! Resource types are a separate table because they outlive namespaces:
//! Glance creates one the first time a namespace is associated with it and
//! lists it ever after (`GET /v2/metadefs/resource_types`).
//!
//! The stock namespaces Glance ships are loaded once
//! ([`MetadefStore::load_stock_namespaces`]); a marker in `settings` records
//! that, so a namespace an operator deleted or changed is never brought
//! back at the next start.

use crate::StoreResult;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Why a change was refused by the caller's closure (travels back as
/// [`crate::StoreError::Refused`]).
pub type Refusal = Box<dyn std::error::Error + Send + Sync>;

/// A metadata definition namespace as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct Namespace {
    /// The name, unique, the namespace's key in the API.
    pub namespace: String,
    /// `public` or `private`.
    pub visibility: String,
    /// A protected namespace cannot be deleted.
    pub protected: bool,
    /// Owning project id.
    pub owner: Option<String>,
    /// Creation time, µs since the epoch.
    pub created_at: i64,
    /// Last update time, µs since the epoch.
    pub updated_at: i64,
    /// Everything else, stored as one JSON document.
    pub body: NamespaceBody,
}

/// The parts of a namespace stored as JSON.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct NamespaceBody {
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Resource types this namespace applies to, in creation order.
    #[serde(default)]
    pub resource_type_associations: Vec<Association>,
    /// Objects, in creation order, names unique.
    #[serde(default)]
    pub objects: Vec<MetaObject>,
    /// Property definitions by name (each a JSON-schema-like object).
    #[serde(default)]
    pub properties: BTreeMap<String, serde_json::Value>,
    /// Tags, in creation order, names unique.
    #[serde(default)]
    pub tags: Vec<MetaTag>,
}

/// A namespace's association with a resource type.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Association {
    /// The resource type, e.g. `OS::Glance::Image`.
    pub name: String,
    /// Prefix of property names when applied to that resource type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// Which part of the resource the properties go to (e.g. `image`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub properties_target: Option<String>,
    /// Creation time, µs.
    pub created_at: i64,
    /// Last update time, µs.
    pub updated_at: i64,
}

/// An object: a named group of property definitions.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MetaObject {
    /// Name, unique in the namespace.
    pub name: String,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Names of required properties.
    #[serde(default)]
    pub required: Vec<String>,
    /// Property definitions by name.
    #[serde(default)]
    pub properties: BTreeMap<String, serde_json::Value>,
    /// Creation time, µs.
    pub created_at: i64,
    /// Last update time, µs.
    pub updated_at: i64,
}

/// A tag definition.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MetaTag {
    /// Name, unique in the namespace.
    pub name: String,
    /// Creation time, µs.
    pub created_at: i64,
    /// Last update time, µs.
    pub updated_at: i64,
}

/// A resource type known to the catalog.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResourceType {
    /// Name, e.g. `OS::Nova::Flavor`.
    pub name: String,
    /// Creation time, µs.
    pub created_at: i64,
    /// Last update time, µs.
    pub updated_at: i64,
}

/// Metadata definition records.
pub trait MetadefStore: Send + Sync {
    /// Create a namespace with its parts; `false` when the name is taken.
    /// Resource types it is associated with are created if new.
    fn create_namespace(&self, ns: &Namespace) -> StoreResult<bool>;
    /// A namespace by name.
    fn get_namespace(&self, name: &str) -> StoreResult<Option<Namespace>>;
    /// Every namespace, oldest first.
    fn list_namespaces(&self) -> StoreResult<Vec<Namespace>>;
    /// Change a namespace in one transaction: `f` gets the current record
    /// (and may be called again on a retry); its error refuses the change
    /// ([`crate::StoreError::Refused`]). A new name that is taken is
    /// [`crate::StoreError::Conflict`]. `None` when there is no such
    /// namespace.
    fn update_namespace(
        &self,
        name: &str,
        f: &mut dyn FnMut(&mut Namespace) -> Result<(), Refusal>,
    ) -> StoreResult<Option<Namespace>>;
    /// Delete a namespace if `check` accepts it; `false` when there is none.
    fn delete_namespace(
        &self,
        name: &str,
        check: &mut dyn FnMut(&Namespace) -> Result<(), Refusal>,
    ) -> StoreResult<bool>;
    /// Every resource type, by name.
    fn list_resource_types(&self) -> StoreResult<Vec<ResourceType>>;
    /// Create the namespaces Glance ships, once per database: when the
    /// marker `marker` is absent, each namespace whose name is free is
    /// created and the marker is set; afterwards nothing is done, so an
    /// operator's deletions and changes stay. Returns how many were made.
    fn load_stock_namespaces(&self, marker: &str, namespaces: &[Namespace]) -> StoreResult<usize>;
}
