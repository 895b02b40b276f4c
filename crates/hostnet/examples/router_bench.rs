//! Router data-plane figures (root): in a stand-in host with the router
//! lab of the tests (`tests/support/lab.rs`), how long a router takes
//! from ensure to forwarding, a floating IP from ensure to reachable (TCP
//! connect from outside) and to cut, 200 floating IPs to program, and a
//! TCP transfer through the router routed, through one floating IP, and
//! through one among 200.
//!
//! `cargo run --release -p ferrostack-hostnet --example router_bench`

#[path = "../tests/support/mod.rs"]
mod support;

use ferrostack_agent::drivers::ObjectDriver;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};
use support::lab::*;

const ROUNDS: usize = 7;

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Connects from `ns` to `addr` until it works; the time it took.
fn until_connects(ns: &str, addr: &str, start: Instant) -> Duration {
    loop {
        if connect(ns, addr, Duration::from_millis(100)).is_ok() {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{addr} never reachable"
        );
    }
}

/// MiB/s of `mib` MiB sent from `ns` to `addr` (a listener `l`).
fn transfer(ns: &str, addr: &str, l: &std::net::TcpListener, mib: usize) -> f64 {
    let mut tx: TcpStream = connect(ns, addr, Duration::from_secs(1)).expect("connect");
    let (mut rx, _) = accept(l);
    let reader = std::thread::spawn(move || {
        let mut buf = vec![0u8; 1 << 16];
        let mut got = 0usize;
        while got < mib << 20 {
            match rx.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => got += n,
            }
        }
        got
    });
    let chunk = vec![7u8; 1 << 16];
    let start = Instant::now();
    for _ in 0..(mib << 4) {
        tx.write_all(&chunk).expect("send");
    }
    let got = reader.join().expect("reader");
    assert_eq!(got, mib << 20);
    (mib as f64) / start.elapsed().as_secs_f64()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    if let Some(why) = support::skip_reason() {
        eprintln!("SKIP: router_bench: {why}");
        return;
    }
    let lab = Lab::new().await;
    let driver = lab.driver();
    let _l_out = listen(&lab.out, "172.24.4.1:7000");
    let l_g1 = listen(&lab.g1, "10.0.1.5:7001");
    let (mut ensure, mut ready) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        let d = lab_doc(router(&[]));
        let start = Instant::now();
        driver.ensure(&d, ROUTER).await.expect("router");
        ensure.push(ms(start.elapsed()));
        ready.push(ms(until_connects(&lab.g2, "172.24.4.1:7000", start)));
        driver.remove(ROUTER).await.expect("remove");
    }
    println!(
        "router create (namespace + 3 ports + NAT): ensure {:.1} ms, to forwarding (TCP g2 -> outside) {:.1} ms (median of {ROUNDS})",
        median(ensure),
        median(ready)
    );

    let bare = lab_doc(router(&[]));
    driver.ensure(&bare, ROUTER).await.expect("router");
    let with = lab_doc(router(&[("172.24.4.20", G1_IP)]));
    let (mut add, mut reach, mut cut) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        let start = Instant::now();
        driver.ensure(&with, ROUTER).await.expect("fip");
        add.push(ms(start.elapsed()));
        reach.push(ms(until_connects(&lab.out, "172.24.4.20:7001", start)));
        let _ = accept(&l_g1);
        let start = Instant::now();
        driver.ensure(&bare, ROUTER).await.expect("fip gone");
        cut.push(ms(start.elapsed()));
        assert!(
            connect(&lab.out, "172.24.4.20:7001", Duration::from_millis(200)).is_err(),
            "floating IP still reachable after removal"
        );
    }
    println!(
        "floating IP associate: ensure {:.1} ms, to reachable (TCP connect from outside) {:.1} ms; disassociate: ensure {:.1} ms, then connect fails (median of {ROUNDS})",
        median(add),
        median(reach),
        median(cut)
    );

    let mut many: Vec<(String, String)> = vec![("172.24.4.20".into(), G1_IP.into())];
    for i in 0..199u32 {
        many.push((format!("172.24.4.{}", i + 21), format!("10.0.1.{}", i + 20)));
    }
    let pairs: Vec<(&str, &str)> = many.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    let big = lab_doc(router(&pairs));
    let start = Instant::now();
    driver.ensure(&big, ROUTER).await.expect("200 fips");
    let program = start.elapsed();
    let start = Instant::now();
    driver.ensure(&big, ROUTER).await.expect("200 fips again");
    let reapply = start.elapsed();
    println!(
        "200 floating IPs on one router: program {:.1} ms, re-apply unchanged {:.1} ms",
        ms(program),
        ms(reapply)
    );

    let mib = 512;
    let l_g1b = listen(&lab.g1, "10.0.1.5:7003");
    let many_fips = transfer(&lab.out, "172.24.4.20:7003", &l_g1b, mib);
    driver.ensure(&with, ROUTER).await.expect("one fip");
    let one_fip = transfer(&lab.out, "172.24.4.20:7003", &l_g1b, mib);
    let routed = transfer(&lab.g2, "10.0.1.5:7003", &l_g1b, mib);
    println!(
        "TCP {mib} MiB through the router: routed (no NAT) {routed:.0} MiB/s, via 1 floating IP {one_fip:.0} MiB/s, via 1 of 200 floating IPs {many_fips:.0} MiB/s"
    );
    driver.remove(ROUTER).await.expect("remove");
}
