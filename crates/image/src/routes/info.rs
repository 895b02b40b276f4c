//! `/v2/info/import` and `/v2/info/stores`: what a client may ask of this
//! image service before it uploads.
//!
//! Both answer as a Glance configured like ferrostack would answer:
//! image data comes by upload (`PUT .../file`) or staged for the
//! `glance-direct` import ([`crate::interop::METHODS`]); it keeps all
//! data in one local store,
//! which is Glance's single-store configuration, where `/v2/info/stores`
//! answers 404 "Multi backend is not supported at this site." Answering
//! rather than 501 lets clients that probe these before an upload go on.

use crate::error::{ImageError, ImageResult};
use serde_json::{json, Value};

/// `GET /v2/info/import`: the import methods offered.
pub async fn import() -> ImageResult<axum::Json<Value>> {
    Ok(axum::Json(json!({
        "import-methods": {
            "description": "Import methods available.",
            "type": "array",
            "value": crate::interop::METHODS
        }
    })))
}

/// `GET /v2/info/stores` and `/v2/info/stores/detail`: one store, so 404
/// as Glance answers without multiple backends.
pub async fn stores() -> ImageError {
    ImageError::NotFound("Multi backend is not supported at this site.".into())
}
