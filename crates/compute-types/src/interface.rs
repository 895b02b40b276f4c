//! The body of `POST /servers/{id}/os-interface` (attach an interface):
//! `{"interfaceAttachment": {"port_id"}}`, `{"net_id", "fixed_ips":
//! [{"ip_address"}]}`, or neither (the project's one network), with
//! `tag` from 2.49.
//!
//! Strict as Nova's schema is: nothing but the wrapper at the top, only
//! those keys inside, ids in `uuid` format, one fixed IP at most. The
//! wrapper itself is optional (`{}` attaches the project's network).

use crate::body::{self, python_repr, BodyError};
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

/// `POST /servers/{id}/os-interface`, kept as sent.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct InterfaceBody {
    /// The whole body.
    pub sent: Value,
}

impl<'de> Deserialize<'de> for InterfaceBody {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Value::deserialize(d).map(|sent| InterfaceBody { sent })
    }
}

/// What an attach asks for, checked.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AttachRequest {
    /// An existing port to attach.
    pub port_id: Option<String>,
    /// A network to create a port on.
    pub net_id: Option<String>,
    /// The address wanted on `net_id`.
    pub fixed_ip: Option<String>,
    /// The device tag (2.49).
    pub tag: Option<String>,
}

const WRAPPER: &str = "interfaceAttachment";

impl InterfaceBody {
    /// The request, checked as Nova's schema and controller check it;
    /// `tag` is known from 2.49 (`tagged`).
    pub fn request(&self, tagged: bool) -> Result<AttachRequest, BodyError> {
        let Value::Object(top) = &self.sent else {
            return Err(BodyError::BadRequest(format!(
                "{} is not of type 'object'",
                python_repr(&self.sent)
            )));
        };
        body::only_allowed("", top, |k| k == WRAPPER).map_err(|_| {
            let extra: Vec<&str> = top
                .keys()
                .map(String::as_str)
                .filter(|k| *k != WRAPPER)
                .collect();
            BodyError::BadRequest(body::unexpected_message(&extra))
        })?;
        let empty = Map::new();
        let inner = match top.get(WRAPPER) {
            None => &empty,
            Some(Value::Object(m)) => m,
            Some(other) => {
                return Err(BodyError::invalid(
                    WRAPPER,
                    other,
                    &format!("{} is not of type 'object'", python_repr(other)),
                ))
            }
        };
        body::only_allowed(WRAPPER, inner, |k| {
            matches!(k, "net_id" | "port_id" | "fixed_ips") || (tagged && k == "tag")
        })?;
        let out = AttachRequest {
            port_id: uuid_field(inner, "port_id")?,
            net_id: uuid_field(inner, "net_id")?,
            fixed_ip: fixed_ip(inner.get("fixed_ips"))?,
            tag: tag(inner.get("tag"))?,
        };
        if out.net_id.is_some() && out.port_id.is_some() {
            return Err(BodyError::BadRequest(
                "Must not input both network_id and port_id".into(),
            ));
        }
        if out.net_id.is_none() && out.fixed_ip.is_some() {
            return Err(BodyError::BadRequest(
                "Must input network_id when request IP address".into(),
            ));
        }
        Ok(out)
    }
}

fn uuid_field(inner: &Map<String, Value>, key: &str) -> Result<Option<String>, BodyError> {
    let field = format!("{WRAPPER}/{key}");
    let Some(id) = body::string(&field, inner.get(key), usize::MAX)? else {
        return Ok(None);
    };
    if uuid::Uuid::parse_str(&id).is_err() {
        return Err(BodyError::invalid(
            &field,
            &Value::String(id.clone()),
            &format!("'{id}' is not a 'uuid'"),
        ));
    }
    Ok(Some(id))
}

fn fixed_ip(value: Option<&Value>) -> Result<Option<String>, BodyError> {
    let field = format!("{WRAPPER}/fixed_ips");
    let Some(value) = value else {
        return Ok(None);
    };
    let Some(items) = value.as_array() else {
        return Err(BodyError::invalid(
            &field,
            value,
            &format!("{} is not of type 'array'", python_repr(value)),
        ));
    };
    match items.as_slice() {
        [] => Err(BodyError::invalid(&field, value, "[] is too short")),
        [one] => {
            let Some(obj) = one.as_object() else {
                return Err(BodyError::invalid(
                    &field,
                    one,
                    &format!("{} is not of type 'object'", python_repr(one)),
                ));
            };
            body::only_allowed(&field, obj, |k| k == "ip_address")?;
            let Some(ip) = obj.get("ip_address") else {
                return Err(BodyError::invalid(
                    &field,
                    one,
                    "'ip_address' is a required property",
                ));
            };
            let address =
                body::string(&format!("{field}/ip_address"), Some(ip), 64)?.unwrap_or_default();
            if address.parse::<std::net::IpAddr>().is_err() {
                return Err(BodyError::invalid(
                    &format!("{field}/ip_address"),
                    ip,
                    &format!("'{address}' is not a 'ip-address'"),
                ));
            }
            Ok(Some(address))
        }
        _ => Err(BodyError::invalid(
            &field,
            value,
            &format!("{} is too long", python_repr(value)),
        )),
    }
}

fn tag(value: Option<&Value>) -> Result<Option<String>, BodyError> {
    let field = format!("{WRAPPER}/tag");
    let Some(t) = body::string(&field, value, 60)? else {
        return Ok(None);
    };
    if t.contains(',') || t.contains('/') {
        return Err(BodyError::invalid(
            &field,
            &Value::String(t.clone()),
            &format!("'{t}' does not match '^[^,/]*$'"),
        ));
    }
    Ok(Some(t))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ID: &str = "6f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";

    fn read(v: Value, tagged: bool) -> Result<AttachRequest, String> {
        InterfaceBody { sent: v }
            .request(tagged)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn an_attach_names_a_port_a_network_or_nothing() {
        assert_eq!(read(json!({}), false).unwrap(), AttachRequest::default());
        let by_port = read(json!({"interfaceAttachment": {"port_id": ID}}), false).unwrap();
        assert_eq!(by_port.port_id.as_deref(), Some(ID));
        let by_net = read(
            json!({"interfaceAttachment": {"net_id": ID, "fixed_ips": [{"ip_address": "10.0.0.9"}]}}),
            false,
        )
        .unwrap();
        assert_eq!(by_net.net_id.as_deref(), Some(ID));
        assert_eq!(by_net.fixed_ip.as_deref(), Some("10.0.0.9"));
    }

    #[test]
    fn bodies_nova_refuses_are_refused_in_its_words() {
        let both = json!({"interfaceAttachment": {"port_id": ID, "net_id": ID}});
        assert!(read(both, false)
            .unwrap_err()
            .contains("both network_id and port_id"));
        let ip_alone = json!({"interfaceAttachment": {"fixed_ips": [{"ip_address": "10.0.0.9"}]}});
        assert!(read(ip_alone, false)
            .unwrap_err()
            .contains("Must input network_id"));
        let bad_id = json!({"interfaceAttachment": {"port_id": "nope"}});
        assert!(read(bad_id, false).unwrap_err().contains("is not a 'uuid'"));
        let bad_ip = json!({"interfaceAttachment": {"net_id": ID, "fixed_ips": [{"ip_address": "10.0.0.300"}]}});
        assert!(read(bad_ip, false).unwrap_err().contains("ip-address"));
        let two = json!({"interfaceAttachment": {"net_id": ID, "fixed_ips": [{"ip_address": "10.0.0.1"}, {"ip_address": "10.0.0.2"}]}});
        assert!(read(two, false).unwrap_err().contains("is too long"));
        let extra = json!({"interfaceAttachment": {"port_id": ID, "color": "red"}});
        assert!(read(extra, false)
            .unwrap_err()
            .contains("'color' was unexpected"));
        let top = json!({"interfaceAttachment": {}, "other": 1});
        assert!(read(top, false)
            .unwrap_err()
            .contains("'other' was unexpected"));
    }

    #[test]
    fn a_tag_is_known_from_2_49() {
        let tagged = json!({"interfaceAttachment": {"port_id": ID, "tag": "data"}});
        assert!(read(tagged.clone(), false)
            .unwrap_err()
            .contains("'tag' was unexpected"));
        assert_eq!(read(tagged, true).unwrap().tag.as_deref(), Some("data"));
        let slash = json!({"interfaceAttachment": {"port_id": ID, "tag": "a/b"}});
        assert!(read(slash, true).is_err());
    }
}
