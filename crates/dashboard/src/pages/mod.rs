//! One module per screen. Handlers are thin: take the logged-in context,
//! call the APIs (in parallel when a page needs several answers), render.

pub mod flavors;
pub mod floating_ips;
pub mod images;
pub mod instances;
pub mod keypairs;
pub mod login;
pub mod networks;
pub mod overview;
pub mod ports;
pub mod projects;
pub mod roles;
pub mod routers;
pub mod security_groups;
pub mod topology;
pub mod users;
pub mod volumes;
