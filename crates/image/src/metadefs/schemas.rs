//! `/v2/schemas/metadefs/...`: the JSON schemas of the metadefs documents,
//! Glance's own (shipped in `crates/image/metadefs/schemas/`, see NOTICE),
//! served as Glance serves them.

use crate::error::ImageResult;
use serde_json::Value;

/// `(path under /v2/schemas/metadefs/, document)`.
const SCHEMAS: &[(&str, &str)] = &[
    (
        "namespace",
        include_str!("../../metadefs/schemas/namespace-show-response.json"),
    ),
    (
        "namespaces",
        include_str!("../../metadefs/schemas/namespaces-list-response.json"),
    ),
    (
        "object",
        include_str!("../../metadefs/schemas/object-show-response.json"),
    ),
    (
        "objects",
        include_str!("../../metadefs/schemas/objects-list-response.json"),
    ),
    (
        "property",
        include_str!("../../metadefs/schemas/property-show-response.json"),
    ),
    (
        "properties",
        include_str!("../../metadefs/schemas/properties-list-response.json"),
    ),
    (
        "resource_type",
        include_str!("../../metadefs/schemas/resource-type-association-show-response.json"),
    ),
    (
        "resource_types",
        include_str!("../../metadefs/schemas/resource-type-associations-list-response.json"),
    ),
    (
        "tag",
        include_str!("../../metadefs/schemas/tag-show-response.json"),
    ),
    (
        "tags",
        include_str!("../../metadefs/schemas/tags-list-response.json"),
    ),
];

/// The schema named `name` (`namespace`, `objects`, ...).
pub fn document(name: &str) -> Option<Value> {
    SCHEMAS
        .iter()
        .find(|(n, _)| *n == name)
        .and_then(|(_, text)| serde_json::from_str(text).ok())
}

macro_rules! schema_handlers {
    ($($fn_name:ident => $name:literal),* $(,)?) => {
        $(
            #[doc = concat!("`GET /v2/schemas/metadefs/", $name, "`.")]
            pub async fn $fn_name() -> ImageResult<axum::Json<Value>> {
                document($name)
                    .map(axum::Json)
                    .ok_or_else(|| crate::error::ImageError::internal(&std::fmt::Error))
            }
        )*
    };
}

schema_handlers! {
    namespace => "namespace",
    namespaces => "namespaces",
    object => "object",
    objects => "objects",
    property => "property",
    properties => "properties",
    resource_type => "resource_type",
    resource_types => "resource_types",
    tag => "tag",
    tags => "tags",
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_schema_parses_and_is_named_as_tempest_expects() {
        for (path, name) in [
            ("namespace", "namespace"),
            ("namespaces", "namespaces"),
            ("object", "object"),
            ("objects", "objects"),
            ("property", "property"),
            ("properties", "properties"),
            ("resource_type", "resource_type_association"),
            ("resource_types", "resource_type_associations"),
            ("tag", "tag"),
            ("tags", "tags"),
        ] {
            assert_eq!(super::document(path).unwrap()["name"], name, "{path}");
        }
    }
}
