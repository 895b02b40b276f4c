//! One catch-all route for the paths of an API a service has not built yet.
//!
//! A real OpenStack service sits behind keystonemiddleware, so every path,
//! built or not, answers 401 to a caller without a valid token. A router
//! `.fallback` would skip [`enforce`](crate::enforce) (no route matched,
//! so there is no row to look up) and answer anyone. Registered as a route
//! instead, [`UNBUILT`] goes through the policy layer like every other:
//! the service gives it rows in its route table
//! ([`route_table!`](crate::route_table), `Authenticated`, one per method,
//! each with the service's 501 handler), the layer answers 401 or 503
//! exactly as it does elsewhere, and only a valid token reaches the 501.
//!
//! One catch-all rather than a row per path of the API (as compute has,
//! where most of Nova is listed): nothing needs a path list kept in step
//! with an API while nothing is built behind it. The router prefers
//! static and parameter segments to a catch-all, so built routes keep
//! their own rows; a path deeper than a built one still lands here.

/// The catch-all route template of the APIs not built yet.
pub const UNBUILT: &str = "/{*unbuilt}";
