//! Key pair views and the microversions that change them.
//!
//! 2.2 added `type` (`ssh` or `x509`) and changed create to 201 and
//! delete to 204; 2.10 let admins act on other users' key pairs with
//! `user_id`; 2.35 added `limit`/`marker` paging to the list; 2.92 made
//! `public_key` required (no more server-side generation) and widened the
//! characters allowed in names.

use crate::ApiVersion;

/// Characters allowed in a key pair name before 2.92.
pub const NAME_CHARS: &str = "_- 0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
/// Characters allowed in a key pair name from 2.92.
pub const NAME_CHARS_2_92: &str =
    "@._- 0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// Do views at `v` carry `type`?
pub fn shows_type(v: ApiVersion) -> bool {
    v.at_least(2)
}

/// Characters a name may use at `v`.
pub fn name_chars(v: ApiVersion) -> &'static str {
    if v.at_least(92) {
        NAME_CHARS_2_92
    } else {
        NAME_CHARS
    }
}

/// May the server generate the key (no `public_key` given) at `v`?
pub fn may_generate(v: ApiVersion) -> bool {
    !v.at_least(92)
}

/// The status of a successful create at `v`.
pub fn create_status(v: ApiVersion) -> u16 {
    if v.at_least(2) {
        201
    } else {
        200
    }
}

/// The status of a successful delete at `v`.
pub fn delete_status(v: ApiVersion) -> u16 {
    if v.at_least(2) {
        204
    } else {
        202
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_and_names_follow_the_microversion() {
        let v = |m| ApiVersion::new(2, m);
        assert_eq!((create_status(v(1)), delete_status(v(1))), (200, 202));
        assert_eq!((create_status(v(2)), delete_status(v(2))), (201, 204));
        assert!(!name_chars(v(91)).contains('@'));
        assert!(name_chars(v(92)).contains('@'));
        assert!(may_generate(v(91)) && !may_generate(v(92)));
    }
}
