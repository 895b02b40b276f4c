//! Bodies of `POST /servers/{id}/action`: `{"<action>": {...}}`.
//!
//! [`ActionBody`] reads any JSON (so a body with no or several actions is
//! refused in ferrostack's words, after authentication, not by the
//! extractor) and [`ActionBody::action`] names the action and reads its
//! arguments as the action's type. An action ferrostack does not serve
//! is [`ServerAction::Other`], answered 501 by the service.
//!
//! Arguments are kept as sent ([`crate::body`]) and checked by methods
//! the service calls where it checks them today: several checks come
//! after the lock check or an image lookup, and the first refusal a
//! client sees must not change. Unknown argument keys are ignored, as
//! they always have been here.

use crate::body::{self, present, BodyError};
pub use crate::create_backup::{create_backup, CreateBackup};
use crate::ApiVersion;
use serde::{Deserialize, Deserializer};
use serde_json::Value;
use std::collections::BTreeMap;

/// A server action body as sent.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ActionBody {
    /// The whole body.
    pub sent: Value,
}

impl<'de> Deserialize<'de> for ActionBody {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Value::deserialize(d).map(|sent| ActionBody { sent })
    }
}

/// A server action and its arguments.
#[derive(Clone, Debug)]
pub enum ServerAction {
    /// `os-stop`.
    Stop,
    /// `os-start`.
    Start,
    /// `reboot`.
    Reboot(Reboot),
    /// `pause`, `unpause`, `suspend` or `resume` (the name says which).
    Power,
    /// `lock`.
    Lock(Lock),
    /// `unlock`.
    Unlock,
    /// `os-getConsoleOutput`.
    ConsoleOutput(ConsoleOutput),
    /// `createImage`.
    CreateImage(CreateImage),
    /// `createBackup`: the arguments as sent (see [`create_backup`]).
    CreateBackup(Value),
    /// `resize`.
    Resize(Resize),
    /// `confirmResize`.
    ConfirmResize,
    /// `revertResize`.
    RevertResize,
    /// `rebuild`.
    Rebuild(Rebuild),
    /// `addSecurityGroup` / `removeSecurityGroup`.
    SecurityGroup(SecurityGroupArgs),
    /// `os-resetState` (admin): the `state` argument as sent.
    ResetState(Value),
    /// `addFloatingIp` / `removeFloatingIp` (to 2.43): the arguments as sent.
    FloatingIp(Value),
    /// `injectNetworkInfo` (admin).
    InjectNetworkInfo,
    /// `resetNetwork`: removed from Nova (410).
    ResetNetwork,
    /// `restore` / `forceDelete` (Nova's deferred delete): only for a
    /// `SOFT_DELETED` server, which ferrostack never has (deletes are
    /// immediate, as Nova's with `reclaim_instance_interval = 0`).
    DeferredDelete,
    /// Any other action (not served by ferrostack).
    Other,
}

/// The `vm_state` an `os-resetState` body asks for: `{"state": "active"
/// | "error"}`, nothing else, as Nova's schema.
pub fn reset_state(args: &Value) -> Result<&'static str, BodyError> {
    let Some(m) = args.as_object() else {
        return Err(BodyError::invalid(
            "os-resetState",
            args,
            &format!("{} is not of type 'object'", crate::body::python_repr(args)),
        ));
    };
    body::only_allowed("os-resetState", m, |k| k == "state")?;
    match m.get("state") {
        Some(Value::String(s)) if s == "active" => Ok("active"),
        Some(Value::String(s)) if s == "error" => Ok("error"),
        Some(other) => Err(BodyError::invalid(
            "state",
            other,
            &format!(
                "{} is not one of ['active', 'error']",
                crate::body::python_repr(other)
            ),
        )),
        None => Err(BodyError::invalid(
            "os-resetState",
            args,
            "'state' is a required property",
        )),
    }
}

impl ActionBody {
    /// The action's name and its arguments: the body must be an object of
    /// exactly one key.
    pub fn action(&self) -> Result<(&str, ServerAction), BodyError> {
        let Some(obj) = self.sent.as_object().filter(|o| o.len() == 1) else {
            return Err(BodyError::BadRequest(
                "The action body must have exactly one action.".into(),
            ));
        };
        let Some((name, args)) = obj.iter().next() else {
            return Err(BodyError::BadRequest("No action given.".into()));
        };
        let action = match name.as_str() {
            "os-stop" => ServerAction::Stop,
            "os-start" => ServerAction::Start,
            "reboot" => ServerAction::Reboot(body::read(args)),
            "pause" | "unpause" | "suspend" | "resume" => ServerAction::Power,
            "lock" => ServerAction::Lock(body::read(args)),
            "unlock" => ServerAction::Unlock,
            "os-getConsoleOutput" => ServerAction::ConsoleOutput(body::read(args)),
            "createImage" => ServerAction::CreateImage(body::read(args)),
            "createBackup" => ServerAction::CreateBackup(args.clone()),
            "resize" => ServerAction::Resize(body::read(args)),
            "confirmResize" => ServerAction::ConfirmResize,
            "revertResize" => ServerAction::RevertResize,
            "rebuild" => ServerAction::Rebuild(Rebuild {
                sent: args.clone(),
                ..body::read(args)
            }),
            "addSecurityGroup" | "removeSecurityGroup" => {
                ServerAction::SecurityGroup(body::read(args))
            }
            "os-resetState" => ServerAction::ResetState(args.clone()),
            "addFloatingIp" | "removeFloatingIp" => ServerAction::FloatingIp(args.clone()),
            "injectNetworkInfo" => ServerAction::InjectNetworkInfo,
            "resetNetwork" => ServerAction::ResetNetwork,
            "restore" | "forceDelete" => ServerAction::DeferredDelete,
            _ => ServerAction::Other,
        };
        Ok((name, action))
    }
}

/// `reboot`: `{"type": "HARD" | "SOFT"}` (any case).
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Reboot {
    /// `HARD` or `SOFT`; required.
    #[serde(default, rename = "type", deserialize_with = "present")]
    pub kind: Option<Value>,
}

impl Reboot {
    /// Is this a hard reboot?
    pub fn hard(&self) -> Result<bool, BodyError> {
        let kind = self.kind.as_ref().and_then(Value::as_str).unwrap_or("");
        match kind.to_ascii_uppercase().as_str() {
            "HARD" => Ok(true),
            "SOFT" => Ok(false),
            _ => Err(BodyError::invalid(
                "type",
                self.kind.as_ref().unwrap_or(&Value::Null),
                "is not one of ['HARD', 'Hard', 'hard', 'SOFT', 'Soft', 'soft']",
            )),
        }
    }
}

/// `lock`: `{"locked_reason": "..."}` from 2.73.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Lock {
    /// Why; read from 2.73, and only when a string.
    #[serde(default, deserialize_with = "present")]
    pub locked_reason: Option<Value>,
}

impl Lock {
    /// The reason at `v`.
    pub fn reason(&self, v: ApiVersion) -> Option<String> {
        if !v.at_least(73) {
            return None;
        }
        self.locked_reason
            .as_ref()
            .and_then(Value::as_str)
            .map(str::to_string)
    }
}

/// `os-getConsoleOutput`: `{"length": n}`.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct ConsoleOutput {
    /// Last lines wanted: an integer or a string of one, `-1` or `null`
    /// for all.
    #[serde(default, deserialize_with = "present")]
    pub length: Option<Value>,
}

impl ConsoleOutput {
    /// How many last lines (`None` or `-1`: all).
    pub fn lines(&self) -> Result<Option<i64>, BodyError> {
        let lines = match &self.length {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) => n.as_i64(),
            Some(Value::String(s)) => s.parse::<i64>().ok(),
            Some(other) => {
                return Err(BodyError::invalid(
                    "length",
                    other,
                    "is not of type 'integer'",
                ))
            }
        };
        if lines.is_some_and(|n| n < -1) {
            return Err(BodyError::invalid(
                "length",
                self.length.as_ref().unwrap_or(&Value::Null),
                "is less than the minimum of -1",
            ));
        }
        Ok(lines)
    }
}

/// `createImage`: `{"name": "...", "metadata": {...}}`.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct CreateImage {
    /// Required: 1-255 characters, not blank.
    #[serde(default, deserialize_with = "present")]
    pub name: Option<Value>,
    /// Image properties to add; `null` is none.
    #[serde(default, deserialize_with = "present")]
    pub metadata: Option<Value>,
}

impl CreateImage {
    /// The image's name.
    pub fn name(&self) -> Result<String, BodyError> {
        self.name
            .as_ref()
            .and_then(Value::as_str)
            .filter(|n| !n.trim().is_empty() && n.chars().count() <= 255)
            .map(str::to_string)
            .ok_or_else(|| {
                BodyError::invalid(
                    "name",
                    self.name.as_ref().unwrap_or(&Value::Null),
                    "is required: a string of 1 to 255 characters",
                )
            })
    }

    /// The properties to add (empty when not given).
    pub fn metadata(&self) -> Result<BTreeMap<String, String>, BodyError> {
        match &self.metadata {
            None | Some(Value::Null) => Ok(BTreeMap::new()),
            Some(m) => body::metadata(m),
        }
    }
}

/// `OS-DCF:diskConfig` of a resize, rebuild or update, if given: `AUTO`
/// or `MANUAL`, as Nova's schema.
pub fn disk_config(value: Option<&Value>) -> Result<Option<String>, BodyError> {
    match value {
        None => Ok(None),
        Some(Value::String(s)) if s == "AUTO" || s == "MANUAL" => Ok(Some(s.clone())),
        Some(other) => Err(BodyError::invalid(
            "OS-DCF:diskConfig",
            other,
            &format!(
                "{} is not one of ['AUTO', 'MANUAL']",
                crate::body::python_repr(other)
            ),
        )),
    }
}

/// `resize`: `{"flavorRef": "...", "OS-DCF:diskConfig"?}`.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Resize {
    /// The new flavor (an id, a number or a URL ending in one); required.
    #[serde(default, rename = "flavorRef", deserialize_with = "present")]
    pub flavor_ref: Option<Value>,
    /// `AUTO` or `MANUAL`, shown in the server's view afterwards.
    #[serde(default, rename = "OS-DCF:diskConfig", deserialize_with = "present")]
    pub disk_config: Option<Value>,
}

impl Resize {
    /// The new flavor's id.
    pub fn flavor_id(&self) -> Result<String, BodyError> {
        match &self.flavor_ref {
            Some(Value::String(s)) => Ok(s.rsplit('/').next().unwrap_or(s).to_string()),
            Some(Value::Number(n)) => Ok(n.to_string()),
            other => Err(BodyError::invalid(
                "flavorRef",
                other.as_ref().unwrap_or(&Value::Null),
                "'flavorRef' is a required property",
            )),
        }
    }
}

/// `rebuild`: a new image, and optionally a new name, metadata, key pair
/// (2.54) and user data (2.57).
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Rebuild {
    /// The arguments as sent (quoted when `imageRef` is missing).
    #[serde(skip)]
    pub sent: Value,
    /// The image (an id or a URL ending in one); required.
    #[serde(default, rename = "imageRef", deserialize_with = "present")]
    pub image_ref: Option<Value>,
    /// A new name: 1-255 characters, not blank.
    #[serde(default, deserialize_with = "present")]
    pub name: Option<Value>,
    /// New metadata, replacing the old.
    #[serde(default, deserialize_with = "present")]
    pub metadata: Option<Value>,
    /// From 2.54: a key pair's name, or `null` to drop the key.
    #[serde(default, deserialize_with = "present")]
    pub key_name: Option<Value>,
    /// From 2.57: base64 user data, or `null` to drop it.
    #[serde(default, deserialize_with = "present")]
    pub user_data: Option<Value>,
    /// The password the rebuild answers with, if given.
    #[serde(default, rename = "adminPass", deserialize_with = "present")]
    pub admin_pass: Option<Value>,
}

impl Rebuild {
    /// The `adminPass` asked for, if any: a string (Nova's schema).
    pub fn admin_pass(&self) -> Result<Option<String>, BodyError> {
        body::admin_pass(self.admin_pass.as_ref())
    }

    /// The image's id.
    pub fn image_id(&self) -> Result<String, BodyError> {
        self.image_ref
            .as_ref()
            .and_then(Value::as_str)
            .map(|r| r.rsplit('/').next().unwrap_or(r).to_string())
            .ok_or_else(|| {
                BodyError::invalid("rebuild", &self.sent, "'imageRef' is a required property")
            })
    }

    /// A new name, if given.
    pub fn name(&self) -> Result<Option<String>, BodyError> {
        self.name
            .as_ref()
            .map(|n| body::name("name", n))
            .transpose()
    }

    /// New metadata, if given (`null` is refused: it is not an object).
    pub fn metadata(&self) -> Result<Option<BTreeMap<String, String>>, BodyError> {
        self.metadata.as_ref().map(body::metadata).transpose()
    }

    /// At `v`: `None` to keep the key, `Some(None)` to drop it,
    /// `Some(Some(name))` for another.
    pub fn key_name(&self, v: ApiVersion) -> Result<Option<Option<String>>, BodyError> {
        if !v.at_least(54) {
            return Ok(None);
        }
        nullable_string("key_name", self.key_name.as_ref())
    }

    /// At `v`: `None` to keep the user data, `Some(None)` to drop it,
    /// `Some(Some(base64))` for new.
    pub fn user_data(&self, v: ApiVersion) -> Result<Option<Option<String>>, BodyError> {
        if !v.at_least(57) {
            return Ok(None);
        }
        let data = nullable_string("user_data", self.user_data.as_ref())?;
        if let Some(Some(s)) = &data {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD
                .decode(s)
                .map_err(|_| {
                    BodyError::invalid("user_data", &Value::from(s.as_str()), "is not a 'base64'")
                })?;
        }
        Ok(data)
    }
}

fn nullable_string(
    field: &str,
    value: Option<&Value>,
) -> Result<Option<Option<String>>, BodyError> {
    match value {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(Value::String(s)) => Ok(Some(Some(s.clone()))),
        Some(other) => Err(BodyError::invalid(field, other, "is not a string")),
    }
}

/// `addSecurityGroup` / `removeSecurityGroup`: `{"name": "<group>"}` (a
/// name or an id of the project's groups).
#[derive(Clone, Debug, Default, Deserialize)]
pub struct SecurityGroupArgs {
    /// The group, as sent.
    #[serde(default, deserialize_with = "present")]
    pub name: Option<Value>,
}

impl SecurityGroupArgs {
    /// The group's name or id; Nova's 400 when it is missing or blank.
    pub fn name(&self) -> Result<String, BodyError> {
        match &self.name {
            Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.clone()),
            Some(Value::String(_)) | None => Err(BodyError::BadRequest(
                "Security group name cannot be empty".into(),
            )),
            Some(v) => Err(BodyError::invalid(
                "name",
                v,
                &format!("{} is not of type 'string'", body::python_repr(v)),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn action(body: Value) -> Result<ServerAction, BodyError> {
        let body: ActionBody = serde_json::from_value(body).unwrap();
        body.action().map(|(_, a)| a)
    }

    #[test]
    fn a_body_names_exactly_one_action() {
        for bad in [
            json!({}),
            json!({"os-stop": null, "os-start": null}),
            json!([]),
        ] {
            assert_eq!(
                action(bad).unwrap_err().to_string(),
                "The action body must have exactly one action."
            );
        }
        assert!(matches!(
            action(json!({"os-stop": null})),
            Ok(ServerAction::Stop)
        ));
        assert!(matches!(
            action(json!({"shelve": null})),
            Ok(ServerAction::Other)
        ));
    }

    #[test]
    fn reboot_type_is_any_case_of_hard_or_soft() {
        let hard = |args| match action(json!({ "reboot": args })) {
            Ok(ServerAction::Reboot(r)) => r.hard(),
            other => panic!("{other:?}"),
        };
        assert_eq!(hard(json!({"type": "Hard"})), Ok(true));
        assert_eq!(hard(json!({"type": "soft"})), Ok(false));
        assert!(hard(json!({"type": "warm"})).is_err());
        assert!(hard(json!(null)).is_err());
    }

    #[test]
    fn lock_reason_is_read_from_2_73() {
        let lock: Lock = body::read(&json!({"locked_reason": "maintenance"}));
        assert_eq!(lock.reason(ApiVersion::new(2, 72)), None);
        assert_eq!(
            lock.reason(ApiVersion::new(2, 73)).as_deref(),
            Some("maintenance")
        );
    }

    #[test]
    fn console_length_is_an_integer_of_at_least_minus_one() {
        let lines = |l| body::read::<ConsoleOutput>(&json!({ "length": l })).lines();
        assert_eq!(lines(json!("5")), Ok(Some(5)));
        assert_eq!(lines(json!(-1)), Ok(Some(-1)));
        assert_eq!(lines(json!(null)), Ok(None));
        assert!(lines(json!(-2)).is_err());
        assert!(lines(json!(true)).is_err());
    }

    #[test]
    fn rebuild_reads_key_name_from_2_54_and_user_data_from_2_57() {
        let args = json!({"imageRef": "http://x/images/abc", "key_name": null, "user_data": "!"});
        let Ok(ServerAction::Rebuild(r)) = action(json!({ "rebuild": args })) else {
            panic!("not a rebuild");
        };
        assert_eq!(r.image_id(), Ok("abc".into()));
        assert_eq!(r.key_name(ApiVersion::new(2, 53)), Ok(None));
        assert_eq!(r.key_name(ApiVersion::new(2, 54)), Ok(Some(None)));
        assert_eq!(r.user_data(ApiVersion::new(2, 56)), Ok(None));
        assert!(r.user_data(ApiVersion::new(2, 57)).is_err());
        let missing = Rebuild {
            sent: json!({}),
            ..Rebuild::default()
        };
        assert!(missing
            .image_id()
            .unwrap_err()
            .to_string()
            .starts_with("Invalid input for field/attribute rebuild."));
    }

    #[test]
    fn resize_needs_a_flavor_ref() {
        let r: Resize = body::read(&json!({"flavorRef": 2}));
        assert_eq!(r.flavor_id(), Ok("2".into()));
        let r: Resize = body::read(&json!({}));
        assert!(r.flavor_id().is_err());
    }
}
