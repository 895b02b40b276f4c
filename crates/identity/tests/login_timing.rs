//! A login for a user name that does not exist takes as long as one for a
//! real user with a wrong password, so response times do not tell an
//! attacker which names exist. Measured over HTTP, medians of alternating
//! rounds (alternation spreads any load on the machine over both kinds).

// Test helpers panic on purpose: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod common;

use common::Server;
use reqwest::Method;
use serde_json::json;
use std::time::{Duration, Instant};

async fn refused_login(s: &Server, name: &str) -> Duration {
    let body = json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": name, "domain": {"id": "default"}, "password": "wrong password",
    }}}}});
    let start = Instant::now();
    let resp = s
        .req(Method::POST, "/v3/auth/tokens")
        .json(&body)
        .send()
        .await
        .unwrap();
    let took = start.elapsed();
    assert_eq!(resp.status().as_u16(), 401);
    took
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

#[tokio::test]
async fn unknown_users_are_refused_as_slowly_as_wrong_passwords() {
    let s = Server::start().await;
    s.user("known");
    // Warm up both paths (the dummy hash is made on first use).
    refused_login(&s, "known").await;
    refused_login(&s, "nobody").await;
    let (mut known, mut unknown) = (Vec::new(), Vec::new());
    for _ in 0..9 {
        known.push(refused_login(&s, "known").await);
        unknown.push(refused_login(&s, "nobody").await);
    }
    let (k, u) = (median(known), median(unknown));
    let (lo, hi) = if k < u { (k, u) } else { (u, k) };
    assert!(
        lo.as_secs_f64() >= hi.as_secs_f64() * 0.7,
        "wrong password {k:?}, unknown user {u:?}: more than 30% apart"
    );
}
