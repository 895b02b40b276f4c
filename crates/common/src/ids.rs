//! Identifiers as OpenStack issues them.
//!
//! Keystone and most services use a UUID4 rendered as 32 lowercase hex digits
//! for identity resources, and the dashed form for compute/image/volume
//! resources. Both are produced here so the choice is made once.

/// A new identity-style id: 32 lowercase hex digits, no dashes.
pub fn new_hex_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// A new resource id in the dashed UUID form Nova, Glance, Cinder and Neutron use.
pub fn new_uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// True when `s` is a UUID in either the dashed or the 32-hex form.
pub fn is_uuid(s: &str) -> bool {
    uuid::Uuid::try_parse(s).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_ids_are_32_lowercase_hex_and_unique() {
        let a = new_hex_id();
        let b = new_hex_id();
        assert_eq!(a.len(), 32);
        assert!(a
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert_ne!(a, b);
        assert!(is_uuid(&a));
    }

    #[test]
    fn dashed_ids_parse_and_garbage_does_not() {
        assert!(is_uuid(&new_uuid()));
        assert!(!is_uuid("myproject"));
        assert!(!is_uuid(""));
    }
}
