//! Flavor views and which fields each microversion shows.
//!
//! A flavor's detail view (`GET /flavors/detail`, show, create, update)
//! gained `description` at 2.55 and `extra_specs` at 2.61; at 2.75 `swap`
//! of a swapless flavor became `0` instead of `""`. The brief view of
//! `GET /flavors` is `id`, `name`, `links`, plus `description` from 2.55.

use crate::ApiVersion;

/// Fields of the detail view at every microversion.
pub const DETAIL_FIELDS: &[&str] = &[
    "id",
    "name",
    "ram",
    "disk",
    "vcpus",
    "swap",
    "OS-FLV-EXT-DATA:ephemeral",
    "OS-FLV-DISABLED:disabled",
    "rxtx_factor",
    "os-flavor-access:is_public",
    "links",
];

/// Does a detail view at `v` carry `description`?
pub fn shows_description(v: ApiVersion) -> bool {
    v.at_least(55)
}

/// Does a detail view at `v` carry `extra_specs`?
pub fn shows_extra_specs(v: ApiVersion) -> bool {
    v.at_least(61)
}

/// Is `swap` of a swapless flavor `0` (else `""`) at `v`?
pub fn swap_is_integer(v: ApiVersion) -> bool {
    v.at_least(75)
}

/// Every key of the detail view at `v`, sorted.
pub fn detail_keys(v: ApiVersion) -> Vec<&'static str> {
    let mut keys = DETAIL_FIELDS.to_vec();
    if shows_description(v) {
        keys.push("description");
    }
    if shows_extra_specs(v) {
        keys.push("extra_specs");
    }
    keys.sort_unstable();
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn description_arrives_at_2_55_and_extra_specs_at_2_61() {
        assert_eq!(detail_keys(ApiVersion::new(2, 54)).len(), 11);
        assert!(detail_keys(ApiVersion::new(2, 55)).contains(&"description"));
        assert!(!detail_keys(ApiVersion::new(2, 60)).contains(&"extra_specs"));
        assert_eq!(detail_keys(ApiVersion::new(2, 61)).len(), 13);
    }
}
