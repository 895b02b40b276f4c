//! The way back from the controller to a host: console reads.
//!
//! An agent registers the URL of its console server and the fingerprint
//! of that server's certificate. [`AgentDirectory`] keeps both in memory
//! and finds them in the compute service's capabilities (`agent_url`,
//! `agent_cert_sha256`) after a controller restart, before the agent's
//! next heartbeat. [`RemoteConsoles`] calls that URL with the join token
//! over TLS, trusting only the registered certificate (one pinned client
//! per fingerprint, kept), and falls back to a local driver for the
//! controller's own host, which registers in process and has no URL.

use crate::hostlink::HostConsoles;
use ferrostack_host_contract::tls::{self, Fingerprint};
use ferrostack_host_contract::wire::ErrorBody;
use ferrostack_host_contract::wire::MAX_CONSOLE_BYTES;
use ferrostack_store::server::ServerStore;
use futures::future::BoxFuture;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A registered agent's console server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentEndpoint {
    /// Its base URL, `https://...`.
    pub url: String,
    /// The fingerprint of its certificate.
    pub cert: Fingerprint,
}

/// Where the registered agents' console servers are.
pub struct AgentDirectory {
    servers: Arc<dyn ServerStore>,
    agents: Mutex<HashMap<String, AgentEndpoint>>,
}

impl AgentDirectory {
    /// A directory backed by the compute services in `servers`.
    pub fn new(servers: Arc<dyn ServerStore>) -> Self {
        AgentDirectory {
            servers,
            agents: Mutex::new(HashMap::new()),
        }
    }

    /// Remembers `host`'s agent; true when it is new or changed.
    pub fn set(&self, host: &str, agent: &AgentEndpoint) -> bool {
        let mut agents = self.agents.lock().unwrap_or_else(|e| e.into_inner());
        agents.insert(host.to_string(), agent.clone()).as_ref() != Some(agent)
    }

    /// `host`'s agent: remembered, or as registered in the store; `None`
    /// for a host without an agent server (the in-process one) or one
    /// registered without a certificate (before TLS).
    pub fn get(&self, host: &str) -> Option<AgentEndpoint> {
        if let Some(agent) = self
            .agents
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(host)
        {
            return Some(agent.clone());
        }
        let services = match self.servers.list_services() {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(host, error = %e, "cannot read compute services");
                return None;
            }
        };
        let service = services
            .into_iter()
            .find(|s| s.host == host && s.binary == "nova-compute")?;
        let caps = &service.capabilities;
        let agent = AgentEndpoint {
            url: caps.get("agent_url")?.as_str()?.to_string(),
            cert: Fingerprint::parse(caps.get("agent_cert_sha256")?.as_str()?).ok()?,
        };
        self.set(host, &agent);
        Some(agent)
    }
}

/// Console reads over the agents' console servers, with a local driver
/// for the hosts that have no agent URL (the controller's own).
pub struct RemoteConsoles {
    agents: Arc<AgentDirectory>,
    token: Arc<str>,
    clients: Mutex<HashMap<Fingerprint, reqwest::Client>>,
    local: Option<Arc<dyn HostConsoles>>,
}

impl RemoteConsoles {
    /// Consoles of the agents in `agents`, called with `join_token`;
    /// `local` serves hosts without a registered URL.
    pub fn new(
        agents: Arc<AgentDirectory>,
        join_token: &str,
        local: Option<Arc<dyn HostConsoles>>,
    ) -> Self {
        RemoteConsoles {
            agents,
            token: join_token.into(),
            clients: Mutex::new(HashMap::new()),
            local,
        }
    }

    /// The client that trusts the certificate `cert` names.
    fn client(&self, cert: Fingerprint) -> Result<reqwest::Client, String> {
        let mut clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = clients.get(&cert) {
            return Ok(c.clone());
        }
        let builder = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(30));
        let client = tls::pinned_client(builder, cert, tls::AGENT_MISMATCH)
            .map_err(|e| format!("cannot build the HTTPS client for the host's agent: {e}"))?;
        clients.insert(cert, client.clone());
        Ok(client)
    }

    async fn fetch(
        &self,
        agent: &AgentEndpoint,
        id: uuid::Uuid,
        max_bytes: usize,
    ) -> Result<String, String> {
        let max = max_bytes.min(MAX_CONSOLE_BYTES);
        let resp = self
            .client(agent.cert)?
            .get(format!("{}/console/{id}", agent.url))
            .query(&[("max_bytes", max)])
            .bearer_auth(&*self.token)
            .send()
            .await
            .map_err(|e| {
                format!(
                    "the host's agent cannot be reached: {}",
                    ferrostack_host_contract::wire::error_chain(&e)
                )
            })?;
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
                (Some(agent), _) => self.fetch(&agent, id, max_bytes).await,
                (None, Some(local)) => local.console_log(host, id, max_bytes).await,
                (None, None) => Err(format!("no console access to host {host}")),
            }
        })
    }
}
