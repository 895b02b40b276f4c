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
    /// True creates a domain through the projects API (Keystone keeps
    /// domains as projects acting as domains).
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

/// Deserialize a field that may be absent (`None`), null (`Some(None)`) or set.
pub(crate) fn nullable<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// Body of group create/update.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupBody {
    /// The group.
    pub group: GroupFields,
}

/// Group fields.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct GroupFields {
    /// Name.
    pub name: Option<String>,
    /// Domain id.
    pub domain_id: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Anything else.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Body of region create/update.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegionBody {
    /// The region.
    pub region: RegionFields,
}

/// Region fields.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct RegionFields {
    /// Id (on create; generated when absent).
    pub id: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Parent region: absent = unchanged, null = none.
    #[serde(default, deserialize_with = "nullable")]
    pub parent_region_id: Option<Option<String>>,
    /// Anything else.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Body of service create/update.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceBody {
    /// The service.
    pub service: ServiceFields,
}

/// Service fields.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct ServiceFields {
    /// Type (`compute`, `identity`, ...).
    #[serde(rename = "type")]
    pub service_type: Option<String>,
    /// Name.
    pub name: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Enabled.
    pub enabled: Option<bool>,
    /// Anything else.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Body of endpoint create/update.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndpointBody {
    /// The endpoint.
    pub endpoint: EndpointFields,
}

/// Endpoint fields.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct EndpointFields {
    /// `public`, `internal` or `admin`.
    pub interface: Option<String>,
    /// Service id.
    pub service_id: Option<String>,
    /// Region id: absent = unchanged, null = none.
    #[serde(default, deserialize_with = "nullable")]
    pub region_id: Option<Option<String>>,
    /// The pre-Kilo spelling of `region_id`.
    #[serde(default, deserialize_with = "nullable")]
    pub region: Option<Option<String>>,
    /// URL.
    pub url: Option<String>,
    /// Enabled.
    pub enabled: Option<bool>,
    /// Anything else.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Body of `POST /v3/users/{user_id}/application_credentials`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppCredentialBody {
    /// The credential.
    pub application_credential: AppCredentialFields,
}

/// Application credential fields. Clients send nulls for what they leave out.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppCredentialFields {
    /// Name, unique per user.
    pub name: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Secret; generated when absent.
    pub secret: Option<String>,
    /// Expiry, ISO 8601.
    pub expires_at: Option<String>,
    /// Roles to delegate; absent or empty = all of the caller's.
    pub roles: Option<Vec<RoleRefBody>>,
    /// May create further credentials.
    pub unrestricted: Option<bool>,
    /// Access rules: `{service, method, path}` or `{id}` of one of the user's rules.
    pub access_rules: Option<Vec<Value>>,
}

/// A role named by id or by name.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct RoleRefBody {
    /// Id.
    #[serde(default)]
    pub id: Option<String>,
    /// Name.
    #[serde(default)]
    pub name: Option<String>,
}

/// Body of `PUT /v3/projects/{project_id}/tags`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TagsBody {
    /// The new tag list.
    pub tags: Vec<String>,
}

/// Body of `POST /v3/OS-TRUST/trusts`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustCreateBody {
    /// The trust.
    pub trust: TrustFields,
}

/// The fields of a new trust. Keystone keeps attributes it does not know
/// (`extra`), so unknown fields are kept rather than refused.
#[derive(Clone, Debug, Deserialize)]
pub struct TrustFields {
    /// Must be the caller.
    pub trustor_user_id: Option<String>,
    /// The user the roles are delegated to.
    pub trustee_user_id: Option<String>,
    /// Required: do trust tokens name the trustor?
    pub impersonation: Option<bool>,
    /// The project the roles apply on.
    #[serde(default)]
    pub project_id: Option<String>,
    /// Roles delegated, by id or by name.
    #[serde(default)]
    pub roles: Option<Vec<RoleRefBody>>,
    /// Expiry, ISO 8601.
    #[serde(default)]
    pub expires_at: Option<String>,
    /// Tokens that may be issued from it (at least 1); null: unlimited.
    #[serde(default)]
    pub remaining_uses: Option<i64>,
    /// May the trustee delegate it further?
    #[serde(default)]
    pub allow_redelegation: Option<bool>,
    /// How many times it may be redelegated (at most the configured maximum).
    #[serde(default)]
    pub redelegation_count: Option<i64>,
    /// Anything else.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}
