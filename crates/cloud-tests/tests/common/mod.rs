//! The compute router served beside a bootstrapped identity service, and
//! the assertions every compute test uses.

#![allow(dead_code, clippy::unwrap_used)]

pub mod fixtures;
pub mod networks;
pub mod remote;
pub mod volumes;

use ferrostack_testkit::{Reply, Stack};
use reqwest::Method;
use serde_json::Value;

/// A stack with the compute API served and a project named `myproject`.
pub struct Compute {
    /// The stack.
    pub s: Stack,
    /// `http://127.0.0.1:<port>/v2.1`.
    pub api: String,
    /// `http://127.0.0.1:<port>`.
    pub root: String,
    /// `myproject`'s id.
    pub project: String,
    /// The host link agents use.
    pub link: std::sync::Arc<ferrostack_compute::hostlink::HostLink>,
    /// Set to stop the agents started with [`Compute::start_fake_agent`].
    pub stop: tokio::sync::watch::Sender<bool>,
    /// The HTTPS host API, when it is served.
    pub host_api: Option<remote::HostApi>,
    /// What the router was built from (start-up recovery takes it too).
    pub config: ferrostack_compute::ComputeConfig,
    /// The fault-injecting operation records, with [`Compute::start_with_faults`].
    pub faults: Option<std::sync::Arc<ferrostack_operations::testing::FaultyRecords>>,
    /// The in-memory network service, with [`Compute::start_with_networks`].
    pub networks: Option<std::sync::Arc<networks::FakeNetworks>>,
    /// The in-memory volume service (always there).
    pub volumes: std::sync::Arc<volumes::FakeVolumes>,
}

impl Compute {
    /// Start it.
    pub async fn start() -> Compute {
        Self::start_with(None).await
    }

    /// Start it, with the HTTPS host API for remote agents on a listener
    /// of its own when `host_api` says how (consoles then go through
    /// `RemoteConsoles`).
    pub async fn start_with(host_api: Option<remote::HostApiSetup>) -> Compute {
        Self::start_full(host_api, false, None).await
    }

    /// Start it with an in-memory network service ([`networks::FakeNetworks`])
    /// giving servers their ports and hosts their network sections.
    pub async fn start_with_networks() -> Compute {
        let fake = std::sync::Arc::new(networks::FakeNetworks::default());
        Self::start_full(None, false, Some(fake)).await
    }

    /// Start it, recording multi-step operations through a store that
    /// can be told to fail or crash at a step (`faults`).
    pub async fn start_with_faults() -> Compute {
        Self::start_full(None, true, None).await
    }

    async fn start_full(
        host_api: Option<remote::HostApiSetup>,
        faults: bool,
        networks: Option<std::sync::Arc<networks::FakeNetworks>>,
    ) -> Compute {
        use ferrostack_compute::hostapi;
        use ferrostack_compute::hostlink::{HostConsoles, NoHostServices, SnapshotImporter};
        let mut s = Stack::start().await;
        let (validator, quotas, projects) = (s.validator(), s.quotas.clone(), s.projects.clone());
        let compute = std::sync::Arc::new(s.store.clone());
        let agents = std::sync::Arc::new(hostapi::AgentDirectory::new(compute.clone()));
        let (consoles, snapshots): (
            std::sync::Arc<dyn HostConsoles>,
            std::sync::Arc<dyn SnapshotImporter>,
        ) = match &host_api {
            Some(h) => (
                std::sync::Arc::new(hostapi::RemoteConsoles::new(
                    agents.clone(),
                    &h.join_token,
                    None,
                )),
                std::sync::Arc::new(remote::TestSnapshots {
                    dir: h.snapshot_dir.clone(),
                    images: compute.clone(),
                }),
            ),
            None => (
                std::sync::Arc::new(NoHostServices),
                std::sync::Arc::new(NoHostServices),
            ),
        };
        let mut link = ferrostack_compute::hostlink::HostLink::new(
            compute.clone(),
            quotas.clone(),
            compute.clone(),
            consoles,
            snapshots,
        );
        if let Some(n) = &networks {
            link = link.with_networks(n.clone()).with_objects(n.clone());
        }
        let fake_volumes = std::sync::Arc::new(volumes::FakeVolumes::default());
        link = link.with_volumes(fake_volumes.clone());
        let link = std::sync::Arc::new(link);
        let stop = tokio::sync::watch::channel(false).0;
        let mut served = None;
        if let Some(h) = host_api {
            let tls = remote::identity(&h.tls_dir);
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            served = Some(remote::HostApi {
                url: format!("https://{}", listener.local_addr().unwrap()),
                join_token: h.join_token.clone(),
                cert: tls.fingerprint(),
            });
            let config = hostapi::HostApiConfig {
                link: link.clone(),
                join_token: h.join_token,
                images_dir: h.images_dir,
                agents,
                inventory: ferrostack_scheduler::InventoryConfig {
                    reserved_host_memory_mb: 0,
                    ..Default::default()
                },
            };
            tokio::spawn(hostapi::serve(listener, &tls, config, stop.subscribe()).unwrap());
        }
        let scheduler = std::sync::Arc::new(ferrostack_scheduler::Scheduler::new(
            compute.clone(),
            ferrostack_scheduler::SchedulerConfig::default(),
        ));
        let config_link = link.clone();
        let faults = faults.then(|| {
            std::sync::Arc::new(ferrostack_operations::testing::FaultyRecords::new(
                compute.clone(),
            ))
        });
        let operations: std::sync::Arc<dyn ferrostack_store::operation::OperationStore> =
            match &faults {
                Some(f) => f.clone(),
                None => compute.clone(),
            };
        let built = std::sync::Arc::new(std::sync::Mutex::new(None));
        let slot = built.clone();
        let root = s
            .serve(move |public_url| {
                let config = ferrostack_compute::ComputeConfig {
                    public_url,
                    validator,
                    quotas,
                    projects,
                    compute: compute.clone(),
                    servers: compute.clone(),
                    placement: compute.clone(),
                    images: compute.clone(),
                    image_url: "http://127.0.0.1:9/image".into(),
                    scheduler,
                    link: config_link,
                    operations,
                    aggregates: compute.clone(),
                    controllers: compute.clone(),
                };
                *slot.lock().unwrap() = Some(config.clone());
                ferrostack_compute::router(config)
            })
            .await;
        let config = built.lock().unwrap().take().unwrap();
        let project = s.project("myproject");
        Compute {
            api: format!("{root}/v2.1"),
            root,
            s,
            project,
            link,
            stop,
            host_api: served,
            config,
            faults,
            networks,
            volumes: fake_volumes,
        }
    }

    /// Register compute host `host` (2 vCPUs, 4 GiB, 40 GiB disk unless
    /// `caps` says otherwise) and run a host agent for it over a fake
    /// hypervisor, in this process, through the real host link.
    pub fn start_fake_agent(
        &self,
        host: &str,
        caps: Option<ferrostack_hypervisor::Capabilities>,
    ) -> std::sync::Arc<ferrostack_hypervisor::FakeHypervisor> {
        let mut config = ferrostack_hypervisor::FakeConfig::default();
        if let Some(c) = caps {
            config.capabilities = c;
        }
        let caps = config.capabilities.clone();
        let hv = std::sync::Arc::new(ferrostack_hypervisor::FakeHypervisor::new(config));
        self.link
            .register_host(
                host,
                "nova",
                &caps,
                &ferrostack_scheduler::InventoryConfig {
                    reserved_host_memory_mb: 0,
                    ..Default::default()
                },
            )
            .unwrap();
        let agent_config = ferrostack_agent::AgentConfig {
            resync_interval: std::time::Duration::from_secs(1),
            backoff_initial: std::time::Duration::from_millis(50),
            backoff_max: std::time::Duration::from_millis(200),
            max_attempts: 2,
            ..Default::default()
        };
        // Ports and networks are wired by in-memory drivers, so a NIC
        // waits for its port as it would on a real host.
        let drivers: Vec<std::sync::Arc<dyn ferrostack_agent::drivers::ObjectDriver>> = [
            ferrostack_host_contract::Kind::Network,
            ferrostack_host_contract::Kind::Port,
        ]
        .into_iter()
        .map(|k| {
            std::sync::Arc::new(ferrostack_agent::drivers::FakeObjects::new(k))
                as std::sync::Arc<dyn ferrostack_agent::drivers::ObjectDriver>
        })
        .collect();
        tokio::spawn(ferrostack_agent::Agent::run_with_drivers(
            host.to_string(),
            self.link.clone(),
            self.link.clone(),
            hv.clone(),
            drivers,
            agent_config,
            self.stop.subscribe(),
        ));
        hv
    }

    /// An active image in the store, owned by `project`.
    pub fn image(&self, project: &str, disk_format: &str) -> String {
        use ferrostack_store::image::ImageStore;
        let id = uuid::Uuid::new_v4().to_string();
        let now = ferrostack_common::time::now_micros();
        let image = ferrostack_store::image::Image {
            id: id.clone(),
            name: Some("guest".into()),
            status: "active".into(),
            visibility: "private".into(),
            owner: Some(project.into()),
            protected: false,
            os_hidden: false,
            disk_format: Some(disk_format.into()),
            container_format: Some("bare".into()),
            size: Some(1 << 20),
            virtual_size: Some(1 << 30),
            checksum: None,
            os_hash_algo: None,
            os_hash_value: None,
            min_disk: 0,
            min_ram: 0,
            tags: vec![],
            properties: Default::default(),
            created_at: now,
            updated_at: now,
        };
        assert!(self.s.store.create_image(&image).unwrap());
        id
    }

    /// `{api}{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.api, path)
    }

    /// `method path` as `token` at microversion `version` (none when empty).
    pub async fn at(
        &self,
        method: Method,
        path: &str,
        token: &str,
        version: &str,
        body: Option<Value>,
    ) -> Reply {
        let mut rb = self.s.req(method, &self.url(path), token);
        if !version.is_empty() {
            rb = rb.header("OpenStack-API-Version", format!("compute {version}"));
        }
        if let Some(body) = body {
            rb = rb.json(&body);
        }
        self.s.call(rb).await
    }

    /// GET `path` as `token` at microversion `version` (none when empty).
    pub async fn get_at(&self, path: &str, token: &str, version: &str) -> Reply {
        let mut rb = self.s.req(reqwest::Method::GET, &self.url(path), token);
        if !version.is_empty() {
            rb = rb.header("OpenStack-API-Version", format!("compute {version}"));
        }
        self.s.call(rb).await
    }

    /// The project's `quota_set` as the admin sees it at 2.1.
    pub async fn quota_set(&self, admin: &str, project: &str) -> Value {
        let r = self
            .s
            .get(&self.url(&format!("/os-quota-sets/{project}")), admin)
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        r.body["quota_set"].clone()
    }
}

/// Assert Nova's fault shape with `code` under `name`; return the message.
pub fn assert_fault(r: &Reply, code: u16, name: &str) -> String {
    assert_eq!(r.status, code, "body: {}", r.body);
    let fault = &r.body[name];
    assert_eq!(fault["code"], code, "body: {}", r.body);
    let message = fault["message"].as_str().unwrap_or_default();
    assert!(!message.is_empty(), "no message: {}", r.body);
    message.to_string()
}

/// The keys of a JSON object, sorted.
pub fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"))
        .keys()
        .cloned()
        .collect();
    k.sort();
    k
}
