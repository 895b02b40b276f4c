//! Bodies of the server metadata API: `PUT`/`POST /servers/{id}/metadata`
//! (`{"metadata": {...}}`, replace or merge) and `PUT
//! /servers/{id}/metadata/{key}` (`{"meta": {"<key>": "<value>"}}`).
//!
//! Why a module: the metadata rules themselves ([`crate::body::metadata`])
//! are shared with server create and `createImage`; what is particular
//! here is where the object sits and that an item must name the key of
//! its URL. Bodies are lenient at the top as they always were here: other
//! top-level keys are ignored, and a body that is not an object or lacks
//! the wrapper key reads as `null`, refused as "not of type 'object'".

use crate::body::{self, BodyError};
use serde::{Deserialize, Deserializer};
use serde_json::Value;
use std::collections::BTreeMap;

/// `PUT` or `POST /servers/{id}/metadata`, kept as sent.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MetadataBody {
    /// The whole body.
    pub sent: Value,
}

/// `PUT /servers/{id}/metadata/{key}`, kept as sent.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MetaItemBody {
    /// The whole body.
    pub sent: Value,
}

impl<'de> Deserialize<'de> for MetadataBody {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Value::deserialize(d).map(|sent| MetadataBody { sent })
    }
}

impl<'de> Deserialize<'de> for MetaItemBody {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Value::deserialize(d).map(|sent| MetaItemBody { sent })
    }
}

impl MetadataBody {
    /// The `metadata` object, checked by [`body::metadata`].
    pub fn metadata(&self) -> Result<BTreeMap<String, String>, BodyError> {
        body::metadata(self.sent.get("metadata").unwrap_or(&Value::Null))
    }
}

impl MetaItemBody {
    /// The one item of `meta`, checked by [`body::metadata`]; it must be
    /// exactly the `key` of the URL.
    pub fn item(&self, key: &str) -> Result<BTreeMap<String, String>, BodyError> {
        let parsed = body::metadata(self.sent.get("meta").unwrap_or(&Value::Null))?;
        if parsed.len() != 1 || !parsed.contains_key(key) {
            return Err(BodyError::BadRequest(
                "Request body and URI mismatch".into(),
            ));
        }
        Ok(parsed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn metadata_is_read_from_its_wrapper() {
        let m = MetadataBody {
            sent: json!({"metadata": {"a": "1"}}),
        };
        assert_eq!(m.metadata().unwrap()["a"], "1");
        for sent in [json!({}), json!([]), json!({"metadata": 3})] {
            assert_eq!(
                MetadataBody { sent: sent.clone() }
                    .metadata()
                    .unwrap_err()
                    .to_string()
                    .split(". ")
                    .last(),
                Some("is not of type 'object'"),
                "{sent}"
            );
        }
        assert!(MetadataBody {
            sent: json!({"metadata": {"a": 1}})
        }
        .metadata()
        .is_err());
    }

    #[test]
    fn an_item_must_be_the_key_of_its_url() {
        let item = |sent: Value| MetaItemBody { sent }.item("k").map_err(|e| e.to_string());
        assert_eq!(item(json!({"meta": {"k": "v"}})).unwrap()["k"], "v");
        assert_eq!(
            item(json!({"meta": {"j": "v"}})).unwrap_err(),
            "Request body and URI mismatch"
        );
        assert_eq!(
            item(json!({"meta": {"k": "v", "j": "w"}})).unwrap_err(),
            "Request body and URI mismatch"
        );
        assert_eq!(
            item(json!({"meta": {}})).unwrap_err(),
            "Request body and URI mismatch"
        );
        assert!(item(json!({"meta": {"k": 1}}))
            .unwrap_err()
            .ends_with("1 is not of type 'string'"));
        assert!(item(json!({}))
            .unwrap_err()
            .ends_with("is not of type 'object'"));
    }
}
