//! Glance's metadata definitions catalog (`/v2/metadefs/...`): namespaces,
//! their objects, property definitions, tags and resource type
//! associations, the resource types, and their schemas.
//!
//! The catalog tells clients (Horizon, the CLI) which properties make
//! sense on which resources, e.g. `hw_cpu_policy` on an image or a flavor.
//! It is advisory data: nothing in the cloud enforces it, so it is stored
//! and served, not interpreted.
//!
//! Who may do what is Glance's default policy since Xena: reading needs a
//! valid token and sees public namespaces and the caller's project's own
//! (another project's private namespace answers 404, its parts too);
//! every write is admin-only (the policy table's `Admin` rule answers 403
//! before the handler runs). A protected namespace and its parts cannot be
//! deleted (403) until it is made unprotected.
//!
//! Every change is one store transaction on the namespace's row
//! ([`ferrostack_store::metadefs`]): checks run inside it on the current
//! record, so a refused request writes nothing and a namespace created with
//! embedded objects, properties and tags is created whole or not at all.
//! The stock namespaces Glance ships are loaded once at first start
//! ([`stock`]).

pub mod namespaces;
pub mod objects;
pub mod properties;
pub mod resource_types;
pub mod schemas;
pub mod stock;
pub mod tags;
mod validate;

use crate::error::{ImageError, ImageResult};
use crate::ImageState;
use ferrostack_common::time::iso_seconds;
use ferrostack_policy::AuthContext;
use ferrostack_store::metadefs::{Association, MetaObject, MetaTag, Namespace, Refusal};
use ferrostack_store::StoreError;
use serde_json::{json, Map, Value};

/// 404 for a namespace that does not exist or that the caller may not see.
pub fn namespace_not_found(name: &str) -> ImageError {
    ImageError::NotFound(format!(
        "Metadata definition namespace={name} was not found."
    ))
}

/// May the caller read `ns`? Admins, anyone for a public namespace, the
/// owner project for a private one.
pub fn can_see(caller: &AuthContext, ns: &Namespace) -> bool {
    caller.is_admin()
        || ns.visibility == "public"
        || (caller.project_id().is_some() && caller.project_id() == ns.owner.as_deref())
}

/// The namespace `name` as the caller may see it.
pub fn load(state: &ImageState, caller: &AuthContext, name: &str) -> ImageResult<Namespace> {
    match state.metadefs.get_namespace(name)? {
        Some(ns) if can_see(caller, &ns) => Ok(ns),
        _ => Err(namespace_not_found(name)),
    }
}

/// Change the namespace `name` in one store transaction. `f` runs on the
/// current record (again on a retry) and may refuse with any
/// [`ImageError`], which comes back unchanged; nothing is written then.
pub fn change(
    state: &ImageState,
    caller: &AuthContext,
    name: &str,
    mut f: impl FnMut(&mut Namespace) -> ImageResult<()>,
) -> ImageResult<Namespace> {
    let result = state.metadefs.update_namespace(name, &mut |ns| {
        if !can_see(caller, ns) {
            return Err(Box::new(namespace_not_found(name)));
        }
        f(ns).map_err(|e| -> Refusal { Box::new(e) })?;
        ns.updated_at = ferrostack_common::time::now_micros();
        Ok(())
    });
    match result {
        Ok(Some(ns)) => Ok(ns),
        Ok(None) => Err(namespace_not_found(name)),
        Err(e) => Err(from_store(e)),
    }
}

/// A store error as the API answers it: a refusal is the handler's own
/// error; a conflict is 409.
pub fn from_store(e: StoreError) -> ImageError {
    match e {
        StoreError::Refused(inner) => match inner.downcast::<ImageError>() {
            Ok(e) => *e,
            Err(other) => ImageError::internal(&*other),
        },
        StoreError::Conflict(message) => ImageError::Conflict(message),
        other => ImageError::internal(&other),
    }
}

/// 403 for deleting a part of a protected namespace.
pub fn protected(what: &str, name: &str) -> ImageError {
    ImageError::Forbidden(format!(
        "Metadata definition {what} {name} is protected and cannot be deleted."
    ))
}

fn insert_some(map: &mut Map<String, Value>, key: &str, value: &Option<String>) {
    if let Some(v) = value {
        map.insert(key.into(), json!(v));
    }
}

/// A namespace as Glance renders it; `parts` adds the embedded resource
/// type associations, properties, objects and tags (each only when there
/// are any, as Glance leaves them out).
pub fn namespace_view(ns: &Namespace, parts: bool) -> Value {
    let mut m = Map::new();
    m.insert("namespace".into(), json!(ns.namespace));
    insert_some(&mut m, "display_name", &ns.body.display_name);
    insert_some(&mut m, "description", &ns.body.description);
    m.insert("visibility".into(), json!(ns.visibility));
    m.insert("protected".into(), json!(ns.protected));
    insert_some(&mut m, "owner", &ns.owner);
    m.insert("created_at".into(), json!(iso_seconds(ns.created_at)));
    m.insert("updated_at".into(), json!(iso_seconds(ns.updated_at)));
    m.insert(
        "self".into(),
        json!(format!("/v2/metadefs/namespaces/{}", ns.namespace)),
    );
    m.insert("schema".into(), json!("/v2/schemas/metadefs/namespace"));
    if !ns.body.resource_type_associations.is_empty() {
        let list: Vec<Value> = ns
            .body
            .resource_type_associations
            .iter()
            .map(association_view)
            .collect();
        m.insert("resource_type_associations".into(), Value::Array(list));
    }
    if parts {
        if !ns.body.properties.is_empty() {
            m.insert("properties".into(), json!(ns.body.properties));
        }
        if !ns.body.objects.is_empty() {
            let list: Vec<Value> = ns
                .body
                .objects
                .iter()
                .map(|o| object_view(&ns.namespace, o))
                .collect();
            m.insert("objects".into(), Value::Array(list));
        }
        if !ns.body.tags.is_empty() {
            let list: Vec<Value> = ns.body.tags.iter().map(tag_view).collect();
            m.insert("tags".into(), Value::Array(list));
        }
    }
    Value::Object(m)
}

/// A resource type association.
pub fn association_view(a: &Association) -> Value {
    let mut m = Map::new();
    m.insert("name".into(), json!(a.name));
    insert_some(&mut m, "prefix", &a.prefix);
    insert_some(&mut m, "properties_target", &a.properties_target);
    m.insert("created_at".into(), json!(iso_seconds(a.created_at)));
    m.insert("updated_at".into(), json!(iso_seconds(a.updated_at)));
    Value::Object(m)
}

/// An object.
pub fn object_view(namespace: &str, o: &MetaObject) -> Value {
    let mut m = Map::new();
    m.insert("name".into(), json!(o.name));
    insert_some(&mut m, "description", &o.description);
    m.insert("required".into(), json!(o.required));
    m.insert("properties".into(), json!(o.properties));
    m.insert("created_at".into(), json!(iso_seconds(o.created_at)));
    m.insert("updated_at".into(), json!(iso_seconds(o.updated_at)));
    m.insert(
        "self".into(),
        json!(format!(
            "/v2/metadefs/namespaces/{namespace}/objects/{}",
            o.name
        )),
    );
    m.insert("schema".into(), json!("/v2/schemas/metadefs/object"));
    Value::Object(m)
}

/// A tag.
pub fn tag_view(t: &MetaTag) -> Value {
    json!({
        "name": t.name,
        "created_at": iso_seconds(t.created_at),
        "updated_at": iso_seconds(t.updated_at),
    })
}

/// A property definition with its name.
pub fn property_view(name: &str, definition: &Value) -> Value {
    let mut m = Map::new();
    m.insert("name".into(), json!(name));
    if let Value::Object(d) = definition {
        for (k, v) in d {
            m.insert(k.clone(), v.clone());
        }
    }
    Value::Object(m)
}
