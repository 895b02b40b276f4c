//! Keystone v2.0's `POST /v2.0/tokens` request, still sent by old rc files
//! and tools that never moved to v3.

use serde::Deserialize;

/// `{"auth": {...}}`.
#[derive(Clone, Debug, Deserialize)]
pub struct V2AuthRequest {
    /// The auth object.
    pub auth: V2Auth,
}

/// Credentials (a password or an existing token) and the tenant to scope to.
#[derive(Clone, Debug, Deserialize)]
pub struct V2Auth {
    /// User name (or id) and password.
    #[serde(default, rename = "passwordCredentials")]
    pub password_credentials: Option<V2PasswordCredentials>,
    /// An existing token.
    #[serde(default)]
    pub token: Option<V2TokenRef>,
    /// Tenant (project) by name, in the Default domain.
    #[serde(default, rename = "tenantName")]
    pub tenant_name: Option<String>,
    /// Tenant (project) by id.
    #[serde(default, rename = "tenantId")]
    pub tenant_id: Option<String>,
}

/// `passwordCredentials`.
#[derive(Clone, Debug, Deserialize)]
pub struct V2PasswordCredentials {
    /// User name, looked up in the Default domain.
    #[serde(default)]
    pub username: Option<String>,
    /// User id, instead of the name.
    #[serde(default, rename = "userId")]
    pub user_id: Option<String>,
    /// Password.
    pub password: String,
}

/// `{"id": "<token>"}`.
#[derive(Clone, Debug, Deserialize)]
pub struct V2TokenRef {
    /// The token.
    pub id: String,
}
