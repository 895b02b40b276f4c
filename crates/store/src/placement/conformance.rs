//! Behaviour every [`PlacementStore`] implementation must show; each
//! implementation's tests run these against it.

use super::{Allocation, ClaimConflict, Inventory, PlacementStore, Refusal, VCPU};
use crate::StoreError;
use std::sync::{Arc, Barrier};

pub(crate) fn claim_vcpus(
    s: &dyn PlacementStore,
    consumer: &str,
    provider: &str,
    vcpus: u64,
) -> Result<(), ClaimConflict> {
    s.claim(&[Allocation {
        consumer: consumer.into(),
        provider: provider.into(),
        resources: [(VCPU.to_string(), vcpus)].into(),
    }])
    .expect("store works")
}

fn vcpus(total: u64) -> std::collections::BTreeMap<String, Inventory> {
    [(VCPU.to_string(), Inventory::new(total, 0, 1.0))].into()
}

pub(crate) fn claims_and_releases(s: &dyn PlacementStore) {
    s.put_provider("h1", &vcpus(4), None).expect("put");
    s.put_provider("h2", &vcpus(4), None).expect("put");
    claim_vcpus(s, "vm1", "h1", 3).expect("fits");
    let refused = claim_vcpus(s, "vm2", "h1", 2).expect_err("does not fit");
    assert_eq!(
        refused.reason,
        Refusal::Exhausted {
            capacity: 4,
            used: 3
        }
    );
    // A batch is all or nothing: the h2 part fits, the h1 part does not.
    let batch = [
        Allocation {
            consumer: "vm3".into(),
            provider: "h2".into(),
            resources: [(VCPU.to_string(), 1)].into(),
        },
        Allocation {
            consumer: "vm4".into(),
            provider: "h1".into(),
            resources: [(VCPU.to_string(), 2)].into(),
        },
    ];
    assert!(s.claim(&batch).expect("store works").is_err());
    assert_eq!(s.provider_summary("h2").expect("h2").used(VCPU), 0);
    assert!(s.allocations("vm3").expect("read").is_empty());
    assert!(matches!(
        s.claim(&[Allocation {
            consumer: "vm1".into(),
            provider: "h2".into(),
            resources: [(VCPU.to_string(), 1)].into(),
        }]),
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(s.allocations("vm1").expect("read").len(), 1);
    assert!(matches!(
        s.delete_provider("h1"),
        Err(StoreError::Conflict(_))
    ));
    s.release("vm1").expect("release");
    s.release("vm1").expect("releasing twice is fine");
    assert_eq!(s.provider_summary("h1").expect("h1").used(VCPU), 0);
    claim_vcpus(s, "vm2", "h1", 4).expect("fits after release");
    s.release("vm2").expect("release");
    s.delete_provider("h1").expect("empty provider deletes");
    assert!(matches!(
        s.provider_summary("h1"),
        Err(StoreError::NotFound { .. })
    ));
    let names: Vec<_> = s
        .provider_summaries()
        .expect("list")
        .into_iter()
        .map(|p| p.name)
        .collect();
    assert_eq!(names, ["h2"]);
}

pub(crate) fn generations_compare_and_swap(s: &dyn PlacementStore) {
    assert!(matches!(
        s.put_provider("h1", &vcpus(4), Some(3)),
        Err(StoreError::Conflict(_))
    ));
    let g1 = s.put_provider("h1", &vcpus(4), Some(0)).expect("create");
    claim_vcpus(s, "vm1", "h1", 1).expect("fits");
    let g2 = s.provider_summary("h1").expect("h1").generation;
    assert!(g2 > g1, "a claim bumps the generation");
    assert!(matches!(
        s.put_provider("h1", &vcpus(8), Some(g1)),
        Err(StoreError::Conflict(_))
    ));
    let g3 = s.put_provider("h1", &vcpus(8), Some(g2)).expect("cas");
    assert!(g3 > g2);
    assert_eq!(s.provider_summary("h1").expect("h1").used(VCPU), 1);
}

pub(crate) fn concurrent_claims_never_overcommit(s: Arc<dyn PlacementStore>) {
    s.put_provider("h1", &vcpus(10), None).expect("put");
    let barrier = Arc::new(Barrier::new(8));
    let handles: Vec<_> = (0..8)
        .map(|t| {
            let s = s.clone();
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                barrier.wait();
                (0..5)
                    .filter(|i| claim_vcpus(&*s, &format!("vm-{t}-{i}"), "h1", 1).is_ok())
                    .count()
            })
        })
        .collect();
    let won: usize = handles.into_iter().map(|h| h.join().expect("thread")).sum();
    assert_eq!(won, 10);
    assert_eq!(s.provider_summary("h1").expect("h1").used(VCPU), 10);
}
