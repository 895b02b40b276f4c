//! `POST /v3/auth/tokens` request body and the token view.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `{"auth": {...}}`.
#[derive(Clone, Debug, Deserialize)]
pub struct AuthRequest {
    /// The auth object.
    pub auth: Auth,
}

/// Identity plus optional scope.
#[derive(Clone, Debug, Deserialize)]
pub struct Auth {
    /// How the caller proves who they are.
    pub identity: Identity,
    /// What the token should be scoped to: an object, or the string `"unscoped"`.
    #[serde(default)]
    pub scope: Option<Value>,
}

/// The `identity` object: methods and their credentials.
#[derive(Clone, Debug, Deserialize)]
pub struct Identity {
    /// Methods in use (`password`, `token`, `application_credential`).
    pub methods: Vec<String>,
    /// Password credentials.
    #[serde(default)]
    pub password: Option<PasswordMethod>,
    /// An existing token.
    #[serde(default)]
    pub token: Option<TokenMethod>,
    /// Application credential.
    #[serde(default)]
    pub application_credential: Option<AppCredentialMethod>,
}

/// `{"user": {...}}` under `password`.
#[derive(Clone, Debug, Deserialize)]
pub struct PasswordMethod {
    /// The user.
    pub user: UserCredentials,
}

/// A user named by id, or by name plus domain, with a password.
#[derive(Clone, Debug, Deserialize)]
pub struct UserCredentials {
    /// User id.
    #[serde(default)]
    pub id: Option<String>,
    /// User name (needs a domain).
    #[serde(default)]
    pub name: Option<String>,
    /// The user's domain.
    #[serde(default)]
    pub domain: Option<NamedRef>,
    /// Password.
    #[serde(default)]
    pub password: Option<String>,
}

/// A reference by id or by name.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct NamedRef {
    /// Id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// `{"id": "<token>"}` under `token`.
#[derive(Clone, Debug, Deserialize)]
pub struct TokenMethod {
    /// The token.
    pub id: String,
}

/// Application credential by id, or by name plus its user.
#[derive(Clone, Debug, Deserialize)]
pub struct AppCredentialMethod {
    /// Id.
    #[serde(default)]
    pub id: Option<String>,
    /// Name (needs `user`).
    #[serde(default)]
    pub name: Option<String>,
    /// Owner, when named.
    #[serde(default)]
    pub user: Option<UserCredentials>,
    /// Secret.
    pub secret: String,
}

/// A project reference in a scope: by id, or by name with a domain.
#[derive(Clone, Debug, Deserialize)]
pub struct ProjectScope {
    /// Id.
    #[serde(default)]
    pub id: Option<String>,
    /// Name.
    #[serde(default)]
    pub name: Option<String>,
    /// Domain, with a name.
    #[serde(default)]
    pub domain: Option<NamedRef>,
}
