//! Keystone's error body: `{"error": {"code": 404, "title": "Not Found", "message": "..."}}`.

use serde::{Deserialize, Serialize};

/// The error object inside [`ErrorBody`].
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ErrorDetail {
    /// HTTP status code.
    pub code: u16,
    /// Reason phrase (`Not Found`, `Unauthorized`, ...).
    pub title: String,
    /// A message safe to show the user.
    pub message: String,
}

/// Keystone's error envelope.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}
