//! Request bodies for identity resources.
//!
//! Every field is optional so the same type serves create (where the
//! service checks what is required) and update (PATCH: absent = unchanged).
//! Unknown keys land in `extra`, which Keystone stores and returns.

use serde::Deserialize;
use serde_json::{Map, Value};

/// Body of project create/update.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectBody {
    /// The project.
    pub project: ProjectFields,
}

/// Project fields.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct ProjectFields {
    /// Name.
    pub name: Option<String>,
    /// Domain id.
    pub domain_id: Option<String>,
    /// Parent project id (or the domain id for a top-level project).
    pub parent_id: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Enabled.
    pub enabled: Option<bool>,
    /// Must be false: ferrostack keeps domains apart from projects.
    pub is_domain: Option<bool>,
    /// Tags.
    pub tags: Option<Vec<String>>,
    /// Options (accepted, stored as extra).
    pub options: Option<Map<String, Value>>,
    /// Anything else.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Body of domain create/update.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DomainBody {
    /// The domain.
    pub domain: DomainFields,
}

/// Domain fields.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct DomainFields {
    /// Name.
    pub name: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Enabled.
    pub enabled: Option<bool>,
    /// Tags.
    pub tags: Option<Vec<String>>,
    /// Options (accepted, stored as extra).
    pub options: Option<Map<String, Value>>,
    /// Anything else.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Body of user create/update.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserBody {
    /// The user.
    pub user: UserFields,
}

/// User fields.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct UserFields {
    /// Name.
    pub name: Option<String>,
    /// Domain id.
    pub domain_id: Option<String>,
    /// Password (never echoed back).
    pub password: Option<String>,
    /// Enabled.
    pub enabled: Option<bool>,
    /// Default project id.
    pub default_project_id: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// E-mail.
    pub email: Option<String>,
    /// Options (accepted, stored as extra).
    pub options: Option<Map<String, Value>>,
    /// Anything else.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Body of `POST /v3/users/{id}/password`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordChangeBody {
    /// The change.
    pub user: PasswordChange,
}

/// Old and new password.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    /// Current password.
    pub original_password: String,
    /// New password.
    pub password: String,
}
