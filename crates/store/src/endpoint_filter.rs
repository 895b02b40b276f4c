//! Keystone's project endpoint filtering (OS-EP-FILTER): endpoint groups,
//! and the endpoints and endpoint groups associated with projects.
//!
//! A project with associations gets a catalog of only those endpoints in
//! its project-scoped tokens; a project with none sees the whole catalog.
//! The three tables feed [`crate::Dataset::Catalog`], the generation the
//! catalog cache is keyed on, so an association takes effect on the next
//! token. Deleting an endpoint, endpoint group or project removes its
//! associations by cascade.

use crate::identity::Extra;
use crate::StoreResult;

/// An endpoint group: a filter over endpoint attributes.
#[derive(Clone, Debug, PartialEq)]
pub struct EndpointGroup {
    /// Id (32 hex).
    pub id: String,
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// The filter: endpoint attribute (`service_id`, `region_id`,
    /// `interface`) to the value it must have.
    pub filters: Extra,
}

/// Endpoint groups and project associations.
pub trait EndpointFilterStore: Send + Sync {
    /// Store a new endpoint group.
    fn create_endpoint_group(&self, g: &EndpointGroup) -> StoreResult<()>;
    /// An endpoint group by id.
    fn get_endpoint_group(&self, id: &str) -> StoreResult<EndpointGroup>;
    /// Every endpoint group.
    fn list_endpoint_groups(&self) -> StoreResult<Vec<EndpointGroup>>;
    /// Replace an endpoint group's fields.
    fn update_endpoint_group(&self, g: &EndpointGroup) -> StoreResult<()>;
    /// Delete an endpoint group and its project associations.
    fn delete_endpoint_group(&self, id: &str) -> StoreResult<()>;

    /// Associate an endpoint with a project (idempotent).
    fn add_project_endpoint(&self, project_id: &str, endpoint_id: &str) -> StoreResult<()>;
    /// Remove that association; `NotFound` when absent.
    fn remove_project_endpoint(&self, project_id: &str, endpoint_id: &str) -> StoreResult<()>;
    /// Every (project id, endpoint id) association.
    fn list_project_endpoints(&self) -> StoreResult<Vec<(String, String)>>;

    /// Associate an endpoint group with a project (idempotent).
    fn add_project_endpoint_group(&self, project_id: &str, group_id: &str) -> StoreResult<()>;
    /// Remove that association; `NotFound` when absent.
    fn remove_project_endpoint_group(&self, project_id: &str, group_id: &str) -> StoreResult<()>;
    /// Every (project id, endpoint group id) association.
    fn list_project_endpoint_groups(&self) -> StoreResult<Vec<(String, String)>>;
}
