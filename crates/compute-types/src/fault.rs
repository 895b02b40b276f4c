//! Nova's fault body: `{"<name>": {"code": 404, "message": "..."}}`, where
//! the name depends on the status (`badRequest`, `itemNotFound`, ...).

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The inside of a fault body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fault {
    /// HTTP status.
    pub code: u16,
    /// Client-safe explanation.
    pub message: String,
}

/// The name Nova wraps a fault of `status` in.
pub fn fault_name(status: u16) -> &'static str {
    match status {
        400 => "badRequest",
        401 => "unauthorized",
        403 => "forbidden",
        404 => "itemNotFound",
        405 => "badMethod",
        409 => "conflictingRequest",
        413 | 429 => "overLimit",
        415 => "badMediaType",
        501 => "notImplemented",
        503 => "serviceUnavailable",
        _ => "computeFault",
    }
}

impl Fault {
    /// The full body, wrapped in the name for `code`.
    pub fn to_body(&self) -> Value {
        let mut body = serde_json::Map::new();
        body.insert(
            fault_name(self.code).to_string(),
            serde_json::json!({"code": self.code, "message": self.message}),
        );
        Value::Object(body)
    }

    /// Parse a fault body, checking the wrapper name matches the code.
    pub fn from_body(body: &Value) -> Option<Fault> {
        let (name, inner) = body.as_object()?.iter().next()?;
        let fault: Fault = serde_json::from_value(inner.clone()).ok()?;
        (name == fault_name(fault.code)).then_some(fault)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fault_round_trips_through_its_body() {
        let f = Fault {
            code: 404,
            message: "gone".into(),
        };
        let body = f.to_body();
        assert_eq!(body["itemNotFound"]["code"], 404);
        assert_eq!(Fault::from_body(&body), Some(f));
    }

    #[test]
    fn a_body_under_the_wrong_name_is_not_a_fault() {
        let body = serde_json::json!({"badRequest": {"code": 404, "message": "x"}});
        assert_eq!(Fault::from_body(&body), None);
    }
}
