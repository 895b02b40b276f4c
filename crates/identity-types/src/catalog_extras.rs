//! Request bodies of Keystone's credential, policy and endpoint filter
//! (OS-EP-FILTER) APIs.
//!
//! As in [`crate::resources`], fields are optional so one type serves
//! create and update; the service says what create requires, with
//! Keystone's messages. Values of the wrong JSON type are refused here.

use serde::Deserialize;
use serde_json::{Map, Value};

/// Body of `POST`/`PATCH /v3/credentials[/{id}]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CredentialBody {
    /// The credential.
    pub credential: CredentialFields,
}

/// A credential's fields.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct CredentialFields {
    /// Ignored on create (Keystone makes the id), checked on update.
    pub id: Option<String>,
    /// The secret document, a string (JSON for `ec2`).
    pub blob: Option<String>,
    /// `ec2`, `totp`, `cert`, ...
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// Owner.
    pub user_id: Option<String>,
    /// Project (required for `ec2`); `null` allowed.
    #[serde(default)]
    pub project_id: Option<String>,
    /// Other keys, accepted and not kept (Keystone's schema allows them).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Body of `POST /v3/users/{user_id}/credentials/OS-EC2`.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Ec2CredentialBody {
    /// The project the credential's tokens are scoped to.
    pub tenant_id: Option<String>,
}

/// Body of `POST`/`PATCH /v3/policies[/{id}]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyBody {
    /// The policy.
    pub policy: PolicyFields,
}

/// A policy's fields.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct PolicyFields {
    /// The document (opaque).
    pub blob: Option<String>,
    /// Its media type.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// Checked against the path on update.
    pub id: Option<String>,
    /// Other attributes, stored and returned.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Body of `POST`/`PATCH /v3/OS-EP-FILTER/endpoint_groups[/{id}]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndpointGroupBody {
    /// The endpoint group.
    pub endpoint_group: EndpointGroupFields,
}

/// An endpoint group's fields.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndpointGroupFields {
    /// Name (required on create).
    pub name: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Endpoint attributes to match: `service_id`, `region_id`, `interface`.
    pub filters: Option<Map<String, Value>>,
}
