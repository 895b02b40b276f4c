//! Domain-specific configuration: `/v3/domains/{domain_id}/config[/{group}[/{option}]]`
//! and the defaults at `/v3/domains/config[/{group}[/{option}]]/default`.
//!
//! Keystone lets an operator give one domain its own identity backend
//! (typically LDAP) through this API. ferrostack serves only its SQL
//! backend, but stores and validates these documents exactly as Keystone
//! does so that tools which manage them (and Tempest) work: only the
//! groups and options Keystone allows (`identity.driver`,
//! `identity.list_limit`, the `ldap` options below) are accepted, anything
//! else is 403 as Keystone's `InvalidDomainConfig`; sensitive options
//! (`ldap.password`) are stored but never shown. Nothing reads a stored
//! configuration yet: a domain with `identity.driver = ldap` still
//! authenticates against the SQL store.
//!
//! The `security_compliance` group is read-only and answers, for the
//! default domain only, the password regex and its description, which any
//! authenticated user may read (clients show them when a password change
//! is refused): the cloud's `[security_compliance]` settings, null when
//! unset.

use super::Caller;
use crate::error::{IdResult, IdentityError, Json};
use crate::service::Identity;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use ferrostack_store::domain_config::DomainConfig;
use http::StatusCode;
use serde_json::{json, Map, Value};
use std::sync::Arc;

/// Options shown and stored, with Keystone's defaults.
fn whitelisted() -> Vec<(&'static str, Vec<(&'static str, Value)>)> {
    vec![
        (
            "identity",
            vec![("driver", json!("sql")), ("list_limit", Value::Null)],
        ),
        (
            "ldap",
            vec![
                ("url", json!("ldap://localhost")),
                ("user", Value::Null),
                ("suffix", json!("cn=example,cn=com")),
                ("query_scope", json!("one")),
                ("page_size", json!(0)),
                ("alias_dereferencing", json!("default")),
                ("debug_level", Value::Null),
                ("chase_referrals", Value::Null),
                ("user_tree_dn", Value::Null),
                ("user_filter", Value::Null),
                ("user_objectclass", json!("inetOrgPerson")),
                ("user_id_attribute", json!("cn")),
                ("user_name_attribute", json!("sn")),
                ("user_mail_attribute", json!("mail")),
                ("user_description_attribute", json!("description")),
                ("user_pass_attribute", json!("userPassword")),
                ("user_enabled_attribute", json!("enabled")),
                ("user_enabled_invert", json!(false)),
                ("user_enabled_mask", json!(0)),
                ("user_enabled_default", json!("True")),
                ("user_attribute_ignore", json!(["default_project_id"])),
                ("user_default_project_id_attribute", Value::Null),
                ("user_enabled_emulation", json!(false)),
                ("user_enabled_emulation_dn", Value::Null),
                ("user_enabled_emulation_use_group_config", json!(false)),
                ("user_additional_attribute_mapping", json!([])),
                ("group_tree_dn", Value::Null),
                ("group_filter", Value::Null),
                ("group_objectclass", json!("groupOfNames")),
                ("group_id_attribute", json!("cn")),
                ("group_name_attribute", json!("ou")),
                ("group_members_are_ids", json!(false)),
                ("group_member_attribute", json!("member")),
                ("group_desc_attribute", json!("description")),
                ("group_attribute_ignore", json!([])),
                ("group_additional_attribute_mapping", json!([])),
                ("tls_cacertfile", Value::Null),
                ("tls_cacertdir", Value::Null),
                ("use_tls", json!(false)),
                ("tls_req_cert", json!("demand")),
                ("use_pool", json!(true)),
                ("pool_size", json!(10)),
                ("pool_retry_max", json!(3)),
                ("pool_retry_delay", json!(0.1)),
                ("pool_connection_timeout", json!(-1)),
                ("pool_connection_lifetime", json!(600)),
                ("use_auth_pool", json!(true)),
                ("auth_pool_size", json!(100)),
                ("auth_pool_connection_lifetime", json!(60)),
            ],
        ),
    ]
}

/// Options stored but never shown.
const SENSITIVE: &[(&str, &str)] = &[("ldap", "password")];

/// The read-only group answered from the cloud's own password policy.
const SECURITY_COMPLIANCE: &str = "security_compliance";

fn invalid(reason: &str) -> IdentityError {
    IdentityError::Forbidden(format!("Invalid domain specific configuration: {reason}."))
}

fn is_whitelisted(group: &str, option: &str) -> bool {
    whitelisted()
        .iter()
        .any(|(g, opts)| *g == group && opts.iter().any(|(o, _)| *o == option))
}

fn is_sensitive(group: &str, option: &str) -> bool {
    SENSITIVE.contains(&(group, option))
}

/// Keystone's `_assert_valid_group_and_option`.
fn check_group_and_option(group: Option<&str>, option: Option<&str>) -> IdResult<()> {
    let Some(group) = group else { return Ok(()) };
    let known_group = whitelisted().iter().any(|(g, _)| *g == group)
        || SENSITIVE.iter().any(|(g, _)| *g == group);
    if !known_group {
        return Err(invalid(&format!(
            "Group {group} is not supported for domain specific configurations"
        )));
    }
    if let Some(option) = option {
        if !is_whitelisted(group, option) && !is_sensitive(group, option) {
            return Err(invalid(&format!(
                "Option {option} in group {group} is not supported for domain specific configurations"
            )));
        }
    }
    Ok(())
}

/// A request's `config` document, checked as Keystone's `_assert_valid_config`.
fn request_config(body: &Value) -> IdResult<DomainConfig> {
    let config = match body.get("config") {
        Some(Value::Object(c)) => c.clone(),
        Some(_) => {
            return Err(IdentityError::BadRequest(
                "Invalid input for field 'config': expected an object.".into(),
            ))
        }
        None => Map::new(),
    };
    if config.is_empty() {
        return Err(invalid("No options specified"));
    }
    for (group, options) in &config {
        match options {
            Value::Object(o) if !o.is_empty() => {
                for option in o.keys() {
                    check_group_and_option(Some(group), Some(option))?;
                }
            }
            _ => {
                return Err(invalid(&format!(
                    "The value of group {group} specified in the config should be a dictionary of options"
                )))
            }
        }
    }
    Ok(config)
}

/// The shown part of a stored document: sensitive options removed, empty groups dropped.
fn shown(config: &DomainConfig) -> DomainConfig {
    let mut out = Map::new();
    for (group, options) in config {
        let Some(options) = options.as_object() else {
            continue;
        };
        let kept: Map<String, Value> = options
            .iter()
            .filter(|(o, _)| !is_sensitive(group, o))
            .map(|(o, v)| (o.clone(), v.clone()))
            .collect();
        if !kept.is_empty() {
            out.insert(group.clone(), Value::Object(kept));
        }
    }
    out
}

fn config_not_found(domain_id: &str, what: &str) -> IdentityError {
    IdentityError::NotFound(format!(
        "Could not find {what} in domain configuration for domain {domain_id}."
    ))
}

fn what(group: Option<&str>, option: Option<&str>) -> String {
    match (group, option) {
        (Some(g), Some(o)) => format!("option {o} in group {g}"),
        (Some(g), None) => format!("group {g}"),
        _ => "any options".into(),
    }
}

/// The part of a document a path names: `{group: {...}}` for a group,
/// `{option: value}` for an option (Keystone's shapes), whole otherwise.
fn select(
    config: &DomainConfig,
    group: Option<&str>,
    option: Option<&str>,
) -> Option<DomainConfig> {
    let Some(group) = group else {
        return (!config.is_empty()).then(|| config.clone());
    };
    let options = config.get(group)?.as_object()?;
    match option {
        None => Some(Map::from_iter([(
            group.to_string(),
            Value::Object(options.clone()),
        )])),
        Some(o) => options
            .get(o)
            .map(|v| Map::from_iter([(o.to_string(), v.clone())])),
    }
}

fn answer(config: DomainConfig) -> axum::Json<Value> {
    axum::Json(json!({ "config": config }))
}

/// `PUT /v3/domains/{domain_id}/config`: replace the whole document; 201
/// when the domain had none, 200 when one was replaced.
pub async fn create(
    State(id): State<Arc<Identity>>,
    Path(domain_id): Path<String>,
    Json(body): Json<Value>,
) -> IdResult<Response> {
    id.store.get_domain(&domain_id)?;
    let config = request_config(&body)?;
    let mut existed = false;
    let stored = id
        .store
        .modify_domain_config(&domain_id, &mut |old| {
            existed = old.is_some();
            Ok(Some(config.clone()))
        })?
        .unwrap_or_default();
    tracing::info!(domain_id, "domain configuration created");
    let status = if existed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, answer(shown(&stored))).into_response())
}

async fn show_at(
    id: &Identity,
    caller: &ferrostack_policy::AuthContext,
    domain_id: &str,
    group: Option<&str>,
    option: Option<&str>,
) -> IdResult<axum::Json<Value>> {
    if group == Some(SECURITY_COMPLIANCE) {
        return security_compliance(id, domain_id, option);
    }
    if !caller.is_admin() {
        return Err(IdentityError::forbidden());
    }
    id.store.get_domain(domain_id)?;
    check_group_and_option(group, option)?;
    let stored = shown(&id.store.get_domain_config(domain_id)?.unwrap_or_default());
    select(&stored, group, option)
        .map(answer)
        .ok_or_else(|| config_not_found(domain_id, &what(group, option)))
}

/// The readable part of `[security_compliance]`, for the default domain only.
fn security_compliance(
    id: &Identity,
    domain_id: &str,
    option: Option<&str>,
) -> IdResult<axum::Json<Value>> {
    if domain_id != crate::bootstrap::DEFAULT_DOMAIN_ID {
        return Err(invalid(
            "Reading security compliance information for any domain other than the default domain is not allowed or supported",
        ));
    }
    // The cloud's own password policy (null when unset, as in Keystone).
    let policy = &id.config.security;
    let values = [
        ("password_regex", json!(policy.password_regex_pattern())),
        (
            "password_regex_description",
            json!(policy.password_regex_description),
        ),
    ];
    match option {
        Some(o) => values
            .iter()
            .find(|(k, _)| *k == o)
            .map(|(k, v)| answer(Map::from_iter([(k.to_string(), v.clone())])))
            .ok_or_else(|| {
                invalid("Reading security compliance values other than password_regex and password_regex_description is not allowed")
            }),
        None => Ok(answer(Map::from_iter([(
            SECURITY_COMPLIANCE.to_string(),
            Value::Object(values.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()),
        )]))),
    }
}

/// `GET /v3/domains/{domain_id}/config`.
pub async fn show(
    State(id): State<Arc<Identity>>,
    Caller(caller): Caller,
    Path(domain_id): Path<String>,
) -> IdResult<axum::Json<Value>> {
    show_at(&id, &caller, &domain_id, None, None).await
}

/// `GET /v3/domains/{domain_id}/config/{group}`.
pub async fn show_group(
    State(id): State<Arc<Identity>>,
    Caller(caller): Caller,
    Path((domain_id, group)): Path<(String, String)>,
) -> IdResult<axum::Json<Value>> {
    show_at(&id, &caller, &domain_id, Some(&group), None).await
}

/// `GET /v3/domains/{domain_id}/config/{group}/{option}`.
pub async fn show_option(
    State(id): State<Arc<Identity>>,
    Caller(caller): Caller,
    Path((domain_id, group, option)): Path<(String, String, String)>,
) -> IdResult<axum::Json<Value>> {
    show_at(&id, &caller, &domain_id, Some(&group), Some(&option)).await
}

/// Keystone's `update_config`: merge `update` into the document; with a
/// group (and option) in the path, the body must name exactly that group
/// (option) and it must already be set.
fn update_at(
    id: &Identity,
    domain_id: &str,
    body: &Value,
    group: Option<&str>,
    option: Option<&str>,
) -> IdResult<axum::Json<Value>> {
    id.store.get_domain(domain_id)?;
    let update = match (group, option) {
        (Some(g), Some(_)) => {
            let inner = body.get("config").cloned().unwrap_or(Value::Null);
            request_config(&json!({ "config": { g: inner } }))?
        }
        _ => request_config(body)?,
    };
    check_group_and_option(group, option)?;
    if let Some(g) = group {
        let options = update.get(g).and_then(Value::as_object);
        let exact = update.len() == 1
            && options.is_some_and(|o| option.is_none_or(|o1| o.len() == 1 && o.contains_key(o1)));
        if !exact {
            return Err(invalid(&format!(
                "Trying to update {}, so that, and only that, must be specified in the config",
                what(group, option)
            )));
        }
    }
    let result = id.store.modify_domain_config(domain_id, &mut |old| {
        let mut config = old.unwrap_or_default();
        if group.is_some() && select(&config, group, option).is_none() {
            return Err(ferrostack_store::StoreError::NotFound {
                kind: "domain configuration",
                id: what(group, option),
            });
        }
        for (g, options) in &update {
            let entry = config
                .entry(g.clone())
                .or_insert_with(|| Value::Object(Map::new()));
            if let (Some(target), Some(options)) = (entry.as_object_mut(), options.as_object()) {
                for (o, v) in options {
                    target.insert(o.clone(), v.clone());
                }
            }
        }
        Ok(Some(config))
    });
    let stored = match result {
        Err(ferrostack_store::StoreError::NotFound { id: what, .. }) => {
            return Err(config_not_found(domain_id, &what))
        }
        other => other?.unwrap_or_default(),
    };
    tracing::info!(domain_id, "domain configuration updated");
    Ok(answer(shown(&stored)))
}

/// `PATCH /v3/domains/{domain_id}/config`.
pub async fn update(
    State(id): State<Arc<Identity>>,
    Path(domain_id): Path<String>,
    Json(body): Json<Value>,
) -> IdResult<axum::Json<Value>> {
    update_at(&id, &domain_id, &body, None, None)
}

/// `PATCH /v3/domains/{domain_id}/config/{group}`.
pub async fn update_group(
    State(id): State<Arc<Identity>>,
    Path((domain_id, group)): Path<(String, String)>,
    Json(body): Json<Value>,
) -> IdResult<axum::Json<Value>> {
    update_at(&id, &domain_id, &body, Some(&group), None)
}

/// `PATCH /v3/domains/{domain_id}/config/{group}/{option}`.
pub async fn update_option(
    State(id): State<Arc<Identity>>,
    Path((domain_id, group, option)): Path<(String, String, String)>,
    Json(body): Json<Value>,
) -> IdResult<axum::Json<Value>> {
    update_at(&id, &domain_id, &body, Some(&group), Some(&option))
}

/// Delete the document, a group or an option; a group or option that is
/// not set is 404.
fn delete_at(
    id: &Identity,
    domain_id: &str,
    group: Option<&str>,
    option: Option<&str>,
) -> IdResult<StatusCode> {
    id.store.get_domain(domain_id)?;
    check_group_and_option(group, option)?;
    let result = id.store.modify_domain_config(domain_id, &mut |old| {
        let mut config = old.unwrap_or_default();
        let missing = || ferrostack_store::StoreError::NotFound {
            kind: "domain configuration",
            id: what(group, option),
        };
        match (group, option) {
            (None, _) => {
                if config.is_empty() {
                    return Err(missing());
                }
                return Ok(None);
            }
            (Some(g), None) => {
                config.remove(g).ok_or_else(missing)?;
            }
            (Some(g), Some(o)) => {
                let options = config
                    .get_mut(g)
                    .and_then(Value::as_object_mut)
                    .ok_or_else(missing)?;
                options.remove(o).ok_or_else(missing)?;
                if options.is_empty() {
                    config.remove(g);
                }
            }
        }
        Ok((!config.is_empty()).then_some(config))
    });
    match result {
        Err(ferrostack_store::StoreError::NotFound { id: what, .. }) => {
            Err(config_not_found(domain_id, &what))
        }
        other => {
            other?;
            tracing::info!(domain_id, "domain configuration deleted");
            Ok(StatusCode::NO_CONTENT)
        }
    }
}

/// `DELETE /v3/domains/{domain_id}/config`.
pub async fn delete(
    State(id): State<Arc<Identity>>,
    Path(domain_id): Path<String>,
) -> IdResult<StatusCode> {
    delete_at(&id, &domain_id, None, None)
}

/// `DELETE /v3/domains/{domain_id}/config/{group}`.
pub async fn delete_group(
    State(id): State<Arc<Identity>>,
    Path((domain_id, group)): Path<(String, String)>,
) -> IdResult<StatusCode> {
    delete_at(&id, &domain_id, Some(&group), None)
}

/// `DELETE /v3/domains/{domain_id}/config/{group}/{option}`.
pub async fn delete_option(
    State(id): State<Arc<Identity>>,
    Path((domain_id, group, option)): Path<(String, String, String)>,
) -> IdResult<StatusCode> {
    delete_at(&id, &domain_id, Some(&group), Some(&option))
}

/// Keystone's `get_config_default`: the whitelisted options' defaults.
fn defaults(group: Option<&str>, option: Option<&str>) -> IdResult<axum::Json<Value>> {
    check_group_and_option(group, option)?;
    let mut config = Map::new();
    for (g, options) in whitelisted() {
        if group.is_some_and(|want| want != g) {
            continue;
        }
        if let Some(o) = option {
            let Some((_, v)) = options.iter().find(|(name, _)| *name == o) else {
                return Err(invalid(&format!(
                    "Reading the default for option {o} in group {g} is not supported"
                )));
            };
            return Ok(answer(Map::from_iter([(o.to_string(), v.clone())])));
        }
        config.insert(
            g.to_string(),
            Value::Object(
                options
                    .into_iter()
                    .map(|(o, v)| (o.to_string(), v))
                    .collect(),
            ),
        );
    }
    Ok(answer(config))
}

/// `GET /v3/domains/config/default`.
pub async fn show_default() -> IdResult<axum::Json<Value>> {
    defaults(None, None)
}

/// `GET /v3/domains/config/{group}/default`.
pub async fn show_default_group(Path(group): Path<String>) -> IdResult<axum::Json<Value>> {
    defaults(Some(&group), None)
}

/// `GET /v3/domains/config/{group}/{option}/default`.
pub async fn show_default_option(
    Path((group, option)): Path<(String, String)>,
) -> IdResult<axum::Json<Value>> {
    defaults(Some(&group), Some(&option))
}
