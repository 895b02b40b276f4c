//! Controllers and leases on both databases (PostgreSQL in the second run
//! of the store's tests): each "controller" is a handle of its own on one
//! database, as separate processes would have.

use crate::controller::ControllerStore;
use crate::operation::{Operation, OperationState, OperationStore};
use crate::testing::{reopen, store};
use crate::SqliteStore;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

const LONG: Duration = Duration::from_secs(60);
const SHORT: Duration = Duration::from_millis(300);

/// Poll `f` until it holds, for at most 10 s.
fn eventually(mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !f() {
        assert!(Instant::now() < deadline, "condition not met within 10 s");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn op(id: &str, owner: Option<&str>) -> Operation {
    Operation {
        id: id.into(),
        kind: "server.create".into(),
        subject: format!("srv-{id}"),
        payload: serde_json::json!({}),
        completed: 1,
        state: OperationState::Running,
        error: None,
        owner: owner.map(Into::into),
        created_at: 1,
        updated_at: 1,
    }
}

fn orphan_ids(s: &SqliteStore) -> Vec<String> {
    s.orphaned_operations()
        .unwrap()
        .into_iter()
        .map(|o| o.id)
        .collect()
}

#[test]
fn a_lease_is_granted_renewed_refused_and_taken_over_once_expired() {
    let (_k, s) = store();
    assert!(s.try_acquire_lease("sweep", "a", SHORT).unwrap());
    assert!(!s.try_acquire_lease("sweep", "b", LONG).unwrap());
    // The holder renews (for longer now), and another name is free.
    assert!(s.try_acquire_lease("sweep", "a", SHORT).unwrap());
    assert!(s.try_acquire_lease("prune", "b", LONG).unwrap());
    // Once a's lease runs out, b takes it, and a no longer gets it back.
    eventually(|| s.try_acquire_lease("sweep", "b", LONG).unwrap());
    assert!(!s.try_acquire_lease("sweep", "a", SHORT).unwrap());
    // Released only by its holder.
    s.release_lease("sweep", "a").unwrap();
    assert!(!s.try_acquire_lease("sweep", "a", SHORT).unwrap());
    s.release_lease("sweep", "b").unwrap();
    assert!(s.try_acquire_lease("sweep", "a", SHORT).unwrap());
}

#[test]
fn two_controllers_racing_for_a_lease_give_exactly_one_holder() {
    let (keep, a) = store();
    let b = reopen(&keep);
    for round in 0..10 {
        let name = format!("job-{round}");
        let barrier = Arc::new(Barrier::new(2));
        let race = |s: SqliteStore, holder: &'static str| {
            let (barrier, name) = (barrier.clone(), name.clone());
            std::thread::spawn(move || {
                barrier.wait();
                s.try_acquire_lease(&name, holder, LONG).unwrap()
            })
        };
        let ta = race(a.clone(), "a");
        let tb = race(b.clone(), "b");
        let (ga, gb) = (ta.join().unwrap(), tb.join().unwrap());
        assert!(ga ^ gb, "round {round}: a got {ga}, b got {gb}");
    }
}

#[test]
fn a_live_controllers_operation_is_not_recovered_by_another() {
    let (keep, a) = store();
    let b = reopen(&keep);
    a.register_controller("ctl-a", "a-1", "host-a", LONG)
        .unwrap();
    b.register_controller("ctl-b", "b-1", "host-b", LONG)
        .unwrap();
    assert_eq!(OperationStore::incarnation(&a).as_deref(), Some("a-1"));
    a.create_operation(&op("1", Some("a-1"))).unwrap();
    assert!(orphan_ids(&b).is_empty());
    assert!(!b.claim_operation("1", Some("b-1")).unwrap());
    assert_eq!(
        a.get_operation("1").unwrap().unwrap().owner.as_deref(),
        Some("a-1")
    );
    // Its heartbeat keeps it so.
    assert!(a.renew_controller("ctl-a", "a-1", LONG).unwrap());
    assert!(orphan_ids(&b).is_empty());
    let live: Vec<bool> = b.controllers().unwrap().iter().map(|c| c.live).collect();
    assert_eq!(live, [true, true]);
}

#[test]
fn a_lapsed_controllers_operation_is_claimed_exactly_once_by_two_survivors() {
    let (keep, dead) = store();
    let (b, c) = (reopen(&keep), reopen(&keep));
    dead.register_controller("ctl-a", "a-1", "host-a", SHORT)
        .unwrap();
    b.register_controller("ctl-b", "b-1", "host-b", LONG)
        .unwrap();
    c.register_controller("ctl-c", "c-1", "host-c", LONG)
        .unwrap();
    for id in ["1", "2", "3", "4", "5"] {
        dead.create_operation(&op(id, Some("a-1"))).unwrap();
    }
    // Finished records are nobody's business.
    let mut finished = op("6", Some("a-1"));
    finished.state = OperationState::Done;
    dead.create_operation(&finished).unwrap();
    // No heartbeat: the lease lapses and both survivors see the orphans.
    eventually(|| orphan_ids(&b).len() == 5);
    assert_eq!(orphan_ids(&c).len(), 5);
    let barrier = Arc::new(Barrier::new(2));
    let sweep = |s: SqliteStore, me: &'static str| {
        let barrier = barrier.clone();
        std::thread::spawn(move || {
            barrier.wait();
            let mut mine = Vec::new();
            for o in s.orphaned_operations().unwrap() {
                if s.claim_operation(&o.id, Some(me)).unwrap() {
                    mine.push(o.id);
                }
            }
            mine
        })
    };
    let tb = sweep(b.clone(), "b-1");
    let tc = sweep(c.clone(), "c-1");
    let (mut mb, mc) = (tb.join().unwrap(), tc.join().unwrap());
    mb.extend(mc);
    mb.sort();
    assert_eq!(mb, ["1", "2", "3", "4", "5"], "each claimed exactly once");
    assert!(orphan_ids(&b).is_empty());
    // A late heartbeat of the dead incarnation does not bring its work back
    // to it: the records have live owners now.
    assert!(dead.renew_controller("ctl-a", "a-1", LONG).unwrap());
    assert!(!dead.claim_operation("1", Some("a-1")).unwrap());
}

#[test]
fn a_restarted_controller_recovers_its_previous_incarnations_work_at_once() {
    let (keep, first) = store();
    first
        .register_controller("ctl-a", "a-1", "host-a", LONG)
        .unwrap();
    first.create_operation(&op("1", Some("a-1"))).unwrap();
    drop(first);
    // The same controller id starts again, long before a-1's lease ends.
    let again = reopen(&keep);
    assert!(orphan_ids(&again).is_empty(), "a-1's lease still holds");
    again
        .register_controller("ctl-a", "a-2", "host-a", LONG)
        .unwrap();
    assert_eq!(orphan_ids(&again), ["1"]);
    assert!(again.claim_operation("1", Some("a-2")).unwrap());
    assert!(orphan_ids(&again).is_empty());
    // The old incarnation's heartbeat is refused: the row is a-2's now.
    assert!(!again.renew_controller("ctl-a", "a-1", LONG).unwrap());
    let ctl = again.controllers().unwrap();
    assert_eq!(ctl.len(), 1);
    assert_eq!((ctl[0].incarnation.as_str(), ctl[0].live), ("a-2", true));
}

#[test]
fn a_retired_controllers_work_is_orphaned_and_records_without_owner_are_too() {
    let (_k, s) = store();
    s.register_controller("ctl-a", "a-1", "host-a", LONG)
        .unwrap();
    s.create_operation(&op("1", Some("a-1"))).unwrap();
    s.create_operation(&op("2", None)).unwrap();
    assert_eq!(orphan_ids(&s), ["2"]);
    s.retire_controller("ctl-a", "a-1").unwrap();
    eventually(|| orphan_ids(&s).len() == 2);
}

#[test]
fn the_database_clock_is_near_the_process_clock() {
    let (_k, s) = store();
    s.register_controller("ctl-a", "a-1", "host-a", LONG)
        .unwrap();
    let c = &s.controllers().unwrap()[0];
    let now = ferrostack_common::time::now_micros();
    // Same machine in tests: within a few seconds, in microseconds.
    assert!(
        (c.started_at - now).abs() < 5_000_000,
        "{} vs {now}",
        c.started_at
    );
    // The lease ends `LONG` after registering (PostgreSQL reads its clock
    // once per call, so the two times may be microseconds apart).
    let ttl = c.lease_until - c.started_at;
    assert!((ttl - LONG.as_micros() as i64).abs() < 100_000, "{ttl}");
}

#[test]
fn a_controllers_peer_address_is_kept_for_its_incarnation_only() {
    let (_k, s) = store();
    s.register_controller("ctl-a", "a-1", "host-a", LONG)
        .unwrap();
    assert_eq!(s.controllers().unwrap()[0].peer_url, None);
    assert!(s
        .set_controller_peer("ctl-a", "a-1", "https://10.0.0.2:8779", "/d/volumes")
        .unwrap());
    let c = &s.controllers().unwrap()[0];
    assert_eq!(c.peer_url.as_deref(), Some("https://10.0.0.2:8779"));
    assert_eq!(c.volume_dir.as_deref(), Some("/d/volumes"));
    // A stale incarnation cannot move the address of the new one.
    s.register_controller("ctl-a", "a-2", "host-a", LONG)
        .unwrap();
    assert!(!s
        .set_controller_peer("ctl-a", "a-1", "https://10.9.9.9:8779", "/x")
        .unwrap());
    let c = &s.controllers().unwrap()[0];
    assert_eq!(c.peer_url.as_deref(), Some("https://10.0.0.2:8779"));
}
