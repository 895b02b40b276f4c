//! Keystone credentials (`/v3/credentials`, and the EC2 credentials of
//! `/v3/users/{id}/credentials/OS-EC2`, which are credentials of type
//! `ec2`): records and the [`CredentialStore`] trait.
//!
//! The store never sees a blob in the clear: the identity service seals it
//! with its credential key before writing and opens it after reading
//! (Keystone encrypts credential blobs with its own key repository for the
//! same reason: a copy of the database is not a copy of everyone's EC2
//! secrets). So [`Credential::sealed_blob`] is ciphertext, and the only
//! clear columns are the ones lists filter on.
//!
//! Its own trait, a supertrait of
//! [`IdentityStore`](crate::identity::IdentityStore), like
//! [`TrustStore`](crate::trust::TrustStore): the credential queries stay in a
//! file one can read whole. No cache derives from credentials (ec2tokens
//! reads the one row it needs), so the table moves no generation.

use crate::StoreResult;

/// One credential.
#[derive(Clone, Debug, PartialEq)]
pub struct Credential {
    /// Id: 32 hex, or for `ec2` credentials the SHA-256 of the access key
    /// (Keystone's rule, so the access key finds its credential).
    pub id: String,
    /// The owner.
    pub user_id: String,
    /// The project (required for `ec2`, optional otherwise).
    pub project_id: Option<String>,
    /// Keystone's `type` (`ec2`, `totp`, `cert`, or anything).
    pub kind: String,
    /// The blob, sealed by the identity service (never the clear text).
    pub sealed_blob: String,
    /// Creation time (µs), the list order.
    pub created_at: i64,
}

/// Credential records.
pub trait CredentialStore: Send + Sync {
    /// Store a new credential; `Conflict` when the id exists.
    fn create_credential(&self, c: &Credential) -> StoreResult<()>;
    /// A credential by id.
    fn get_credential(&self, id: &str) -> StoreResult<Credential>;
    /// Credentials, optionally only a user's and/or of one type.
    fn list_credentials(
        &self,
        user_id: Option<&str>,
        kind: Option<&str>,
    ) -> StoreResult<Vec<Credential>>;
    /// Replace a credential's sealed blob.
    fn update_credential_blob(&self, id: &str, sealed_blob: &str) -> StoreResult<()>;
    /// Delete a credential.
    fn delete_credential(&self, id: &str) -> StoreResult<()>;
}
