//! The way back from the controller to a host: console reads.
//!
//! An agent registers the URL of its console server. [`AgentDirectory`]
//! keeps it in memory and finds it in the compute service's capabilities
//! (`agent_url`) after a controller restart, before the agent's next
//! heartbeat. [`RemoteConsoles`] calls that URL with the join token, and
//! falls back to a local driver for the controller's own host, which
//! registers in process and has no URL.

use crate::hostlink::HostConsoles;
use ferrostack_agent::remote::console::MAX_CONSOLE_BYTES;
use ferrostack_agent::remote::wire::ErrorBody;
use ferrostack_store::server::ServerStore;
use futures::future::BoxFuture;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Where the registered agents' console servers are.
pub struct AgentDirectory {
    servers: Arc<dyn ServerStore>,
    urls: Mutex<HashMap<String, String>>,
}

impl AgentDirectory {
    /// A directory backed by the compute services in `servers`.
    pub fn new(servers: Arc<dyn ServerStore>) -> Self {
        AgentDirectory {
            servers,
            urls: Mutex::new(HashMap::new()),
        }
    }

    /// Remembers `host`'s agent URL; true when it is new or changed.
    pub fn set(&self, host: &str, url: &str) -> bool {
        let mut urls = self.urls.lock().unwrap_or_else(|e| e.into_inner());
        urls.insert(host.to_string(), url.to_string()).as_deref() != Some(url)
    }

    /// `host`'s agent URL: remembered, or as registered in the store;
    /// `None` for a host without an agent server (the in-process one).
    pub fn get(&self, host: &str) -> Option<String> {
        if let Some(url) = self
            .urls
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(host)
        {
            return Some(url.clone());
        }
        let services = match self.servers.list_services() {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(host, error = %e, "cannot read compute services");
                return None;
            }
        };
        let url = services
            .into_iter()
            .find(|s| s.host == host && s.binary == "nova-compute")?
            .capabilities
            .get("agent_url")?
            .as_str()?
            .to_string();
        self.set(host, &url);
        Some(url)
    }
}

/// Console reads over the agents' console servers, with a local driver
/// for the hosts that have no agent URL (the controller's own).
pub struct RemoteConsoles {
    agents: Arc<AgentDirectory>,
    token: Arc<str>,
    client: reqwest::Client,
    local: Option<Arc<dyn HostConsoles>>,
}

impl RemoteConsoles {
    /// Consoles of the agents in `agents`, called with `join_token`;
    /// `local` serves hosts without a registered URL.
    pub fn new(
        agents: Arc<AgentDirectory>,
        join_token: &str,
        local: Option<Arc<dyn HostConsoles>>,
    ) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(30))
            .build()?;
        Ok(RemoteConsoles {
            agents,
            token: join_token.into(),
            client,
            local,
        })
    }

    async fn fetch(&self, url: &str, id: uuid::Uuid, max_bytes: usize) -> Result<String, String> {
        let max = max_bytes.min(MAX_CONSOLE_BYTES);
        let resp = self
            .client
            .get(format!("{url}/console/{id}"))
            .query(&[("max_bytes", max)])
            .bearer_auth(&*self.token)
            .send()
            .await
            .map_err(|e| format!("the host's agent cannot be reached: {e}"))?;
        let status = resp.status();
        let text = resp
            .text()
            .await
            .map_err(|e| format!("reading the console from the host's agent: {e}"))?;
        if status.is_success() {
            return Ok(text);
        }
        let message = serde_json::from_str::<ErrorBody>(&text)
            .map(|b| b.error.message)
            .unwrap_or_else(|_| status.to_string());
        Err(format!("the host's agent answered {status}: {message}"))
    }
}

impl HostConsoles for RemoteConsoles {
    fn console_log<'a>(
        &'a self,
        host: &'a str,
        id: uuid::Uuid,
        max_bytes: usize,
    ) -> BoxFuture<'a, Result<String, String>> {
        Box::pin(async move {
            match (self.agents.get(host), &self.local) {
                (Some(url), _) => self.fetch(&url, id, max_bytes).await,
                (None, Some(local)) => local.console_log(host, id, max_bytes).await,
                (None, None) => Err(format!("no console access to host {host}")),
            }
        })
    }
}
