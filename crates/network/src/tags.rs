//! `/v2.0/{networks,subnets,ports,routers,floatingips}/{id}/tags[/{tag}]`: Neutron's
//! `standard-attr-tag` sub-resource. Tags are part of each record, so a
//! tag change is an update of the record (its revision moves).
//!
//! The handlers are written once over [`Tagged`] and instantiated per
//! resource by `tag_routes!`, since each resource has its own route rows
//! in the policy table.

use crate::error::{Json, NetworkError, NetworkResult};
use crate::{attrs, floating_ips_api, networks, ports_api, routers, subnets, NetworkState};
use ferrostack_policy::AuthContext;
use ferrostack_store::router::GatewayPort;
use http::StatusCode;
use serde_json::{json, Value};

/// The longest tag Neutron accepts.
pub const MAX_TAG_LEN: usize = 255;

/// Validate tags and drop duplicates, keeping the first of each.
pub fn dedup(tags: Vec<String>) -> NetworkResult<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for t in tags {
        if t.is_empty() || t.chars().count() > MAX_TAG_LEN || t.contains(',') {
            return Err(NetworkError::invalid_input(
                "tags",
                format!("'{t}' is not a valid tag"),
            ));
        }
        if !out.contains(&t) {
            out.push(t);
        }
    }
    Ok(out)
}

/// A resource kind that carries tags.
#[derive(Clone, Copy, Debug)]
pub enum Tagged {
    /// Networks.
    Network,
    /// Subnets.
    Subnet,
    /// Ports.
    Port,
    /// Routers.
    Router,
    /// Floating IPs.
    FloatingIp,
}

impl Tagged {
    /// The record's tags and project, if the caller may see it.
    fn load(
        self,
        state: &NetworkState,
        caller: &AuthContext,
        id: &str,
    ) -> NetworkResult<(Vec<String>, String)> {
        Ok(match self {
            Tagged::Network => {
                let n = networks::load(state, caller, id)?;
                (n.tags, n.project_id)
            }
            Tagged::Subnet => {
                let s = subnets::load(state, caller, id)?;
                (s.tags, s.project_id)
            }
            Tagged::Port => {
                let p = ports_api::load(state, caller, id)?;
                (p.tags, p.project_id)
            }
            Tagged::Router => {
                let r = routers::load(state, caller, id)?;
                (r.tags, r.project_id)
            }
            Tagged::FloatingIp => {
                let f = floating_ips_api::load(state, caller, id)?;
                (f.tags, f.project_id)
            }
        })
    }

    /// Change the tags of a record the caller may write.
    fn change(
        self,
        state: &NetworkState,
        caller: &AuthContext,
        id: &str,
        f: &dyn Fn(&mut Vec<String>),
    ) -> NetworkResult<Vec<String>> {
        let (_, project) = self.load(state, caller, id)?;
        attrs::check_write(caller, &project, "rule:update_tags")?;
        let now = ferrostack_common::time::now_micros();
        let tags = match self {
            Tagged::Network => state
                .store
                .update_network(id, &mut |n| {
                    f(&mut n.tags);
                    n.updated_at = now;
                    Ok(())
                })?
                .map(|n| n.tags),
            Tagged::Subnet => state
                .store
                .update_subnet(
                    id,
                    &mut |s| {
                        f(&mut s.tags);
                        s.updated_at = now;
                        Ok(())
                    },
                    None,
                )?
                .map(|s| s.tags),
            Tagged::Port => state
                .store
                .update_port(id, &mut |p| {
                    f(&mut p.tags);
                    p.updated_at = now;
                    Ok(None)
                })?
                .map(|p| p.tags),
            Tagged::Router => state
                .routers
                .update_router(
                    id,
                    &mut |r| {
                        f(&mut r.tags);
                        r.updated_at = now;
                        Ok(())
                    },
                    GatewayPort::Keep,
                    &mut |_, _| Ok(()),
                )?
                .map(|r| r.tags),
            Tagged::FloatingIp => state
                .store
                .update_floating_ip(id, &mut |rec| {
                    f(&mut rec.tags);
                    rec.updated_at = now;
                    Ok(())
                })?
                .map(|rec| rec.tags),
        };
        tags.ok_or_else(|| attrs::not_found("HTTPNotFound", "Resource", id))
    }

    /// `GET .../tags`.
    pub fn list(
        self,
        state: &NetworkState,
        caller: &AuthContext,
        id: &str,
    ) -> NetworkResult<Value> {
        Ok(json!({"tags": self.load(state, caller, id)?.0}))
    }

    /// `PUT .../tags` with `{"tags": [...]}`: replace them all.
    pub fn replace(
        self,
        state: &NetworkState,
        caller: &AuthContext,
        id: &str,
        body: Value,
    ) -> NetworkResult<Value> {
        let tags = match body.get("tags") {
            Some(Value::Array(items)) => items
                .iter()
                .map(|t| {
                    t.as_str().map(str::to_string).ok_or_else(|| {
                        NetworkError::invalid_input("tags", format!("'{t}' is not a valid tag"))
                    })
                })
                .collect::<NetworkResult<Vec<_>>>()?,
            _ => return Err(NetworkError::bad_request("Invalid tags body")),
        };
        let tags = dedup(tags)?;
        let tags = self.change(state, caller, id, &|t| *t = tags.clone())?;
        Ok(json!({ "tags": tags }))
    }

    /// `DELETE .../tags`.
    pub fn clear(self, state: &NetworkState, caller: &AuthContext, id: &str) -> NetworkResult<()> {
        self.change(state, caller, id, &|t| t.clear()).map(|_| ())
    }

    /// `GET .../tags/{tag}`: 204 when present, 404 `TagNotFound`.
    pub fn check(
        self,
        state: &NetworkState,
        caller: &AuthContext,
        id: &str,
        tag: &str,
    ) -> NetworkResult<()> {
        if self.load(state, caller, id)?.0.iter().any(|t| t == tag) {
            Ok(())
        } else {
            Err(tag_not_found(id, tag))
        }
    }

    /// `PUT .../tags/{tag}`.
    pub fn add(
        self,
        state: &NetworkState,
        caller: &AuthContext,
        id: &str,
        tag: &str,
    ) -> NetworkResult<()> {
        dedup(vec![tag.to_string()])?;
        self.change(state, caller, id, &|t| {
            if !t.iter().any(|x| x == tag) {
                t.push(tag.to_string());
            }
        })
        .map(|_| ())
    }

    /// `DELETE .../tags/{tag}`.
    pub fn remove(
        self,
        state: &NetworkState,
        caller: &AuthContext,
        id: &str,
        tag: &str,
    ) -> NetworkResult<()> {
        self.check(state, caller, id, tag)?;
        self.change(state, caller, id, &|t| t.retain(|x| x != tag))
            .map(|_| ())
    }
}

fn tag_not_found(id: &str, tag: &str) -> NetworkError {
    NetworkError::not_found(
        "TagNotFound",
        format!("Tag {tag} could not be found for resource {id}."),
    )
}

/// The six tag handlers of one resource kind, in a module named `$m`.
macro_rules! tag_routes {
    ($m:ident, $kind:expr) => {
        /// Tag handlers of one resource kind.
        pub mod $m {
            use super::*;
            use axum::extract::{Path, State};
            use axum::Extension;
            use std::sync::Arc;

            /// `GET .../tags`.
            pub async fn list(
                State(s): State<Arc<NetworkState>>,
                Extension(c): Extension<AuthContext>,
                Path(id): Path<String>,
            ) -> NetworkResult<axum::Json<Value>> {
                $kind.list(&s, &c, &id).map(axum::Json)
            }

            /// `PUT .../tags`.
            pub async fn replace(
                State(s): State<Arc<NetworkState>>,
                Extension(c): Extension<AuthContext>,
                Path(id): Path<String>,
                Json(body): Json<Value>,
            ) -> NetworkResult<axum::Json<Value>> {
                $kind.replace(&s, &c, &id, body).map(axum::Json)
            }

            /// `DELETE .../tags`.
            pub async fn clear(
                State(s): State<Arc<NetworkState>>,
                Extension(c): Extension<AuthContext>,
                Path(id): Path<String>,
            ) -> NetworkResult<StatusCode> {
                $kind.clear(&s, &c, &id).map(|_| StatusCode::NO_CONTENT)
            }

            /// `GET .../tags/{tag}`.
            pub async fn check(
                State(s): State<Arc<NetworkState>>,
                Extension(c): Extension<AuthContext>,
                Path((id, tag)): Path<(String, String)>,
            ) -> NetworkResult<StatusCode> {
                $kind
                    .check(&s, &c, &id, &tag)
                    .map(|_| StatusCode::NO_CONTENT)
            }

            /// `PUT .../tags/{tag}`.
            pub async fn add(
                State(s): State<Arc<NetworkState>>,
                Extension(c): Extension<AuthContext>,
                Path((id, tag)): Path<(String, String)>,
            ) -> NetworkResult<StatusCode> {
                $kind.add(&s, &c, &id, &tag).map(|_| StatusCode::CREATED)
            }

            /// `DELETE .../tags/{tag}`.
            pub async fn remove(
                State(s): State<Arc<NetworkState>>,
                Extension(c): Extension<AuthContext>,
                Path((id, tag)): Path<(String, String)>,
            ) -> NetworkResult<StatusCode> {
                $kind
                    .remove(&s, &c, &id, &tag)
                    .map(|_| StatusCode::NO_CONTENT)
            }
        }
    };
}

tag_routes!(network, Tagged::Network);
tag_routes!(subnet, Tagged::Subnet);
tag_routes!(port, Tagged::Port);
tag_routes!(router, Tagged::Router);
tag_routes!(floatingip, Tagged::FloatingIp);
