//! The compute host inside `allinone`: a hypervisor driver, the host
//! agent converging it through the in-process host link, the host's
//! heartbeat, and what the control plane reads from the host directly
//! (serial consoles) or takes from it (snapshot files).
//!
//! The agent talks to the control plane only through the link's
//! `DesiredStateSource`/`ObservedStateSink` traits, the same seam a
//! remote `ferrostack agent` uses over HTTPS (see `agent_cmd`). Shutting the process
//! down stops the agent, never the VMs: QEMU runs daemonized, and the next
//! start re-adopts every VM it finds in `DATA/instances`.

use anyhow::Context;
use ferrostack_agent::{Agent, AgentConfig, LocalBaseImages};
use ferrostack_compute::hostlink::{HostConsoles, HostLink, SnapshotImporter};
use ferrostack_hypervisor::{FakeConfig, FakeHypervisor, Hypervisor, QemuConfig, QemuHypervisor};
use ferrostack_image::ImageDataStore;
use ferrostack_scheduler::InventoryConfig;
use ferrostack_store::image::ImageStore;
use futures::future::BoxFuture;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Which hypervisor driver the host runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Driver {
    /// Real VMs with QEMU (KVM when a probe guest really runs, else TCG).
    Qemu,
    /// No VMs: the same state machine in memory (control-plane testing
    /// and scale benchmarks).
    Fake,
}

/// The controller's own host's driver, for console reads.
pub struct LocalConsoles {
    host: String,
    hv: Arc<dyn Hypervisor>,
}

impl HostConsoles for LocalConsoles {
    fn console_log<'a>(
        &'a self,
        host: &'a str,
        id: uuid::Uuid,
        max_bytes: usize,
    ) -> BoxFuture<'a, Result<String, String>> {
        Box::pin(async move {
            if host != self.host {
                return Err(format!("host {host} is not reachable from this controller"));
            }
            self.hv
                .console_log(id, max_bytes)
                .await
                .map_err(|e| e.to_string())
        })
    }
}

/// Snapshot files land in `DATA/snapshots` and become image data.
pub struct LocalSnapshots {
    dir: PathBuf,
    images: Arc<dyn ImageStore>,
    data: Arc<dyn ImageDataStore>,
}

impl SnapshotImporter for LocalSnapshots {
    fn path_for(&self, image_id: &str) -> PathBuf {
        self.dir.join(format!("{image_id}.qcow2"))
    }

    fn import<'a>(&'a self, image_id: &'a str) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let path = self.path_for(image_id);
            ferrostack_image::import::import_file(
                self.images.as_ref(),
                self.data.as_ref(),
                image_id,
                &path,
            )
            .await
        })
    }

    fn discard<'a>(&'a self, image_id: &'a str) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let _ = tokio::fs::remove_file(self.path_for(image_id)).await;
            ferrostack_image::import::kill(self.images.as_ref(), image_id);
        })
    }

    fn rotate_backups<'a>(
        &'a self,
        server: &'a str,
        backup_type: &'a str,
        rotation: u64,
    ) -> BoxFuture<'a, Result<Vec<String>, String>> {
        Box::pin(async move {
            let all = self.images.list_images().map_err(|e| e.to_string())?;
            let doomed = ferrostack_compute::servers::snapshot::backups_beyond(
                &all,
                server,
                backup_type,
                rotation,
            );
            let mut deleted = Vec::new();
            for id in doomed {
                // A protected backup stays, as Glance refuses its delete.
                if all.iter().any(|i| i.id == id && i.protected) {
                    tracing::warn!(image_id = %id, "a protected backup is not rotated");
                    continue;
                }
                if self.images.delete_image(&id).map_err(|e| e.to_string())? {
                    if let Err(e) = self.data.delete(&id).await {
                        tracing::warn!(image_id = %id, error = %e, "image data not removed");
                    }
                    deleted.push(id);
                }
            }
            Ok(deleted)
        })
    }
}

/// What `allinone` needs to build the host.
pub struct HostPlan {
    /// Host name (the compute service's and placement provider's).
    pub name: String,
    /// The driver.
    pub driver: Driver,
    /// `DATA`.
    pub data_dir: PathBuf,
    /// Where the QEMU driver keeps instances (and the base image cache).
    pub instances_dir: PathBuf,
    /// The host data plane's options.
    pub net: crate::host_network::HostNetArgs,
}

/// The host's driver and the services the link reads from it.
pub struct Host {
    /// The driver; None on a controller that runs no VMs itself.
    pub hv: Option<Arc<dyn Hypervisor>>,
    /// Console access for the link (None without a driver).
    pub consoles: Option<Arc<dyn HostConsoles>>,
    /// Snapshot import for the link: agents upload snapshots to the
    /// controller, so it is there with or without a driver.
    pub snapshots: Arc<dyn SnapshotImporter>,
}

/// The hypervisor driver, keeping QEMU's instances in `instances_dir`
/// (QEMU's KVM probe happens on first use).
pub fn driver(driver: Driver, instances_dir: &Path) -> anyhow::Result<Arc<dyn Hypervisor>> {
    Ok(match driver {
        Driver::Qemu => Arc::new(
            QemuHypervisor::new(QemuConfig::new(instances_dir))
                .with_context(|| format!("cannot use {} for VMs", instances_dir.display()))?,
        ),
        Driver::Fake => Arc::new(FakeHypervisor::new(FakeConfig::default())),
    })
}

/// Build the host's driver (when `run_vms`) and what the link reads
/// from it.
pub fn build(
    plan: &HostPlan,
    run_vms: bool,
    images: Arc<dyn ImageStore>,
    data: Arc<dyn ImageDataStore>,
) -> anyhow::Result<Host> {
    let hv = if run_vms {
        Some(driver(plan.driver, &plan.instances_dir)?)
    } else {
        None
    };
    let snapshot_dir = plan.data_dir.join("snapshots");
    std::fs::create_dir_all(&snapshot_dir)
        .with_context(|| format!("cannot create {}", snapshot_dir.display()))?;
    Ok(Host {
        consoles: hv.clone().map(|hv| {
            Arc::new(LocalConsoles {
                host: plan.name.clone(),
                hv,
            }) as Arc<dyn HostConsoles>
        }),
        snapshots: Arc::new(LocalSnapshots {
            dir: snapshot_dir,
            images,
            data,
        }),
        hv,
    })
}

/// Register the host, then run its agent and heartbeat until `stop`.
pub async fn run(
    plan: HostPlan,
    hv: Arc<dyn Hypervisor>,
    link: Arc<HostLink>,
    stop: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let caps = hv
        .capabilities()
        .await
        .context("cannot read the hypervisor's capabilities")?;
    tracing::info!(
        host = %plan.name,
        accelerator = caps.accelerator.as_str(),
        vcpus = caps.vcpus,
        memory_mib = caps.memory_mib,
        "compute host up"
    );
    let inventory = InventoryConfig::default();
    let tunnel_ip = plan.net.tunnel_address()?;
    link.register_host_at(&plan.name, "nova", &caps, &inventory, tunnel_ip.as_deref())
        .context("cannot register the compute host")?;
    let base_images = match plan.driver {
        Driver::Qemu => Some(Arc::new(LocalBaseImages::new(
            plan.data_dir.join("images"),
            plan.instances_dir.join("_base"),
        ))),
        Driver::Fake => None,
    };
    let config = AgentConfig {
        snapshot_dir: Some(plan.data_dir.join("snapshots")),
        images: base_images
            .clone()
            .map(|b| b as Arc<dyn ferrostack_agent::BaseImages>),
        ..AgentConfig::default()
    };
    let heartbeat = {
        let (link, name, mut caps, mut stop) =
            (link.clone(), plan.name.clone(), caps.clone(), stop.clone());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(10));
            let mut prune = tokio::time::interval(BASE_PRUNE_INTERVAL);
            loop {
                tokio::select! {
                    _ = tick.tick() => {
                        ferrostack_hypervisor::host_facts::refresh_load(&mut caps);
                        if let Err(e) = link.register_host_at(&name, "nova", &caps, &inventory, tunnel_ip.as_deref()) {
                            tracing::warn!(error = %e, "compute host heartbeat failed");
                        }
                    }
                    _ = prune.tick() => {
                        if let Some(cache) = &base_images {
                            prune_bases(&link, &name, cache);
                        }
                    }
                    r = stop.changed() => if r.is_err() || *stop.borrow() { break },
                }
            }
        })
    };
    let mut drivers = crate::host_network::drivers(
        plan.driver,
        &plan.data_dir,
        &plan.net,
        &plan.name,
        link.clone(),
    )?;
    drivers.push(crate::host_exports::driver(
        plan.driver,
        &plan.instances_dir,
        &plan.name,
        plan.net.tunnel_address()?.as_deref(),
        plan.net.nbd_port,
    ));
    Agent::run_with_drivers(
        plan.name.clone(),
        link.clone(),
        link,
        hv,
        drivers,
        config,
        stop,
    )
    .await;
    heartbeat.abort();
    Ok(())
}

/// How often unused base images leave the cache.
const BASE_PRUNE_INTERVAL: Duration = Duration::from_secs(3600);

/// Remove cached base images no server on the host was booted from (and
/// that were not linked in the last hour, so a boot in flight keeps its
/// base). Deleting a cache entry never touches the image service's copy.
fn prune_bases(link: &HostLink, host: &str, cache: &LocalBaseImages) {
    let in_use = match link.images_in_use(host) {
        Ok(i) => i,
        Err(e) => {
            tracing::warn!(error = %e, "cannot list the images in use; base cache not pruned");
            return;
        }
    };
    match cache.prune(&in_use, BASE_PRUNE_INTERVAL) {
        Ok(0) => {}
        Ok(n) => tracing::info!(removed = n, "unused base images pruned"),
        Err(e) => tracing::warn!(error = %e, "pruning the base image cache failed"),
    }
}

/// The default host name: the machine's, or `allinone`.
pub fn default_host_name() -> String {
    // The kernel's node name (what `hostname` prints, per UTS namespace)
    // first: /etc/hostname is only what the name was set from at boot.
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .filter_map(|path| std::fs::read_to_string(path).ok())
        .map(|s| s.trim().to_string())
        .find(|s| !s.is_empty() && s != "(none)")
        .unwrap_or_else(|| "allinone".into())
}
