//! Fixtures for the admin API tests: compute services, placement
//! providers with usage, and servers stored directly, as the host agent
//! wiring and the server code would store them.

use super::Compute;
use ferrostack_common::time::now_micros;
use ferrostack_store::placement::{Allocation, Inventory, PlacementStore};
use ferrostack_store::server::{ComputeService, Instance, ServerStore};

use serde_json::json;

/// The one server the fixtures make.
pub const VM: &str = "aaaaaaaa-0000-0000-0000-000000000001";

impl Compute {
    /// A compute service on `host` that last reported `age_secs` ago.
    pub fn service(&self, host: &str, zone: &str, age_secs: i64) -> ComputeService {
        let now = now_micros();
        self.s
            .store
            .upsert_service(&ComputeService {
                id: 0,
                uuid: uuid::Uuid::new_v4().to_string(),
                host: host.into(),
                binary: "nova-compute".into(),
                zone: zone.into(),
                disabled: false,
                disabled_reason: None,
                forced_down: false,
                capabilities: json!({"hypervisor_type": "QEMU", "hypervisor_version": 8002002,
                    "accelerator": "tcg", "vcpus": 8, "memory_mib": 16384,
                    "local_disk_gib": 100, "cpu_arch": "x86_64", "host_ip": "127.0.0.1"}),
                heartbeat_at: now - age_secs * 1_000_000,
                created_at: now,
                updated_at: now,
            })
            .unwrap()
    }

    /// `host`'s provider, with one server ([`VM`]) using 2 VCPU, 2048 MB, 10 GB.
    pub fn busy_host(&self, host: &str) {
        let inv = [
            ("VCPU".to_string(), Inventory::new(8, 0, 1.0)),
            ("MEMORY_MB".to_string(), Inventory::new(16384, 0, 1.0)),
            ("DISK_GB".to_string(), Inventory::new(100, 0, 1.0)),
        ]
        .into();
        self.s.store.put_provider(host, &inv, None).unwrap();
        self.s
            .store
            .claim(&[Allocation {
                consumer: VM.into(),
                provider: host.into(),
                resources: [
                    ("VCPU".to_string(), 2),
                    ("MEMORY_MB".to_string(), 2048),
                    ("DISK_GB".to_string(), 10),
                ]
                .into(),
            }])
            .unwrap()
            .unwrap();
        self.s
            .store
            .create_instance(&instance(VM, &self.project, host, false))
            .unwrap();
    }
}

/// A server of `project` on `host`.
pub fn instance(uuid: &str, project: &str, host: &str, deleted: bool) -> Instance {
    Instance {
        seq: 0,
        uuid: uuid.into(),
        project_id: project.into(),
        user_id: "u".into(),
        name: "vm1".into(),
        host: Some(host.into()),
        vm_state: "active".into(),
        task_state: None,
        power_state: 1,
        doc: json!({}),
        desired: None,
        generation: 0,
        observed: None,
        created_at: 1,
        updated_at: 1,
        deleted_at: deleted.then_some(2),
    }
}
