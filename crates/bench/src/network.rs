//! The network API benchmark: how fast `POST /v2.0/ports` answers.
//!
//! Against a cloud it is given (`--url`) or an `allinone --hypervisor fake`
//! it starts itself ([`Allinone`]), it logs in, lifts the project's
//! network quotas (Neutron's default of 500 ports would end the run),
//! creates a network and a /16 subnet (room for every port of the run),
//! creates one port untimed (a broken setup stops here with its error),
//! then, per concurrency, `--ports` port creates in a closed loop over
//! kept-alive connections, and the same number of deletes. Each port
//! gets its address from IPAM, so the figure includes Neutron's allocation.
//!
//! With the fake hypervisor the host's network drivers are in-memory
//! fakes, so nothing is programmed on this machine and the figure is the
//! API and control plane alone (what wiring on a host costs is
//! [`crate::dataplane`]'s part).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::{Client, Method, RequestBuilder, StatusCode};
use serde_json::{json, Value};

use crate::identity::Credentials;
use crate::load::percentile;
use crate::servers::{call, endpoint, truncated};

type Res<T> = Result<T, String>;

/// A logged-in project with the network endpoint from the catalog.
#[derive(Debug)]
pub struct NetworkApi {
    client: Client,
    token: String,
    project_id: String,
    /// The Neutron root, without `/v2.0`.
    base: String,
}

/// The network and subnet the ports are created on.
#[derive(Debug, Clone)]
pub struct Setup {
    /// The network id.
    pub network_id: String,
    /// The subnet id.
    pub subnet_id: String,
}

/// Port creates (or deletes) at one concurrency.
#[derive(Debug, Clone)]
pub struct PortCell {
    /// `create` or `delete`.
    pub op: &'static str,
    /// Concurrent workers.
    pub concurrency: usize,
    /// Successful requests.
    pub ok: u64,
    /// Failed requests.
    pub errors: u64,
    /// From the first request to the last answer.
    pub elapsed: Duration,
    /// Latency p50 and p99.
    pub p50: Duration,
    /// Latency p99.
    pub p99: Duration,
    /// The first error, to say why `errors` is not zero.
    pub first_error: Option<String>,
}

impl PortCell {
    /// Successful requests per second.
    pub fn rate(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

impl NetworkApi {
    /// Logs in (project scope) and finds the network endpoint.
    pub async fn login(client: Client, auth_url: &str, creds: &Credentials) -> Res<NetworkApi> {
        let body = json!({"auth": {
            "identity": {"methods": ["password"], "password": {"user": {
                "name": creds.username,
                "password": creds.password,
                "domain": {"name": creds.user_domain},
            }}},
            "scope": {"project": {
                "name": creds.project,
                "domain": {"name": creds.project_domain},
            }},
        }});
        let url = format!("{}/auth/tokens", auth_url.trim_end_matches('/'));
        let resp = client
            .post(url)
            .json(&body)
            .send()
            .await
            .map_err(|e| format!("transport error: {e}"))?;
        let token = resp
            .headers()
            .get("X-Subject-Token")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let status = resp.status();
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        let (StatusCode::CREATED, Some(token)) = (status, token) else {
            return Err(format!(
                "login: HTTP {status}: {}",
                truncated(&body.to_string())
            ));
        };
        let base = endpoint(&body, "network")?;
        Ok(NetworkApi {
            client,
            token,
            project_id: body["token"]["project"]["id"]
                .as_str()
                .ok_or("the token names no project")?
                .to_owned(),
            base: base.trim_end_matches("/v2.0").to_owned(),
        })
    }

    fn neutron(&self, method: Method, path: &str) -> RequestBuilder {
        self.client
            .request(method, format!("{}/v2.0{path}", self.base))
            .header("X-Auth-Token", &self.token)
    }

    /// Lifts the project's quotas, creates the network and the subnet.
    pub async fn prepare(&self, cidr: &str) -> Res<Setup> {
        let path = format!("/quotas/{}", self.project_id);
        let quota = json!({"quota": {"network": -1, "subnet": -1, "port": -1}});
        call(
            self.neutron(Method::PUT, &path).json(&quota),
            StatusCode::OK,
        )
        .await
        .map_err(|e| format!("PUT /v2.0{path}: {e}"))?;
        let net = json!({"network": {"name": "bench-net"}});
        let net = call(
            self.neutron(Method::POST, "/networks").json(&net),
            StatusCode::CREATED,
        )
        .await
        .map_err(|e| format!("POST /v2.0/networks: {e}"))?;
        let network_id = net["network"]["id"]
            .as_str()
            .ok_or("no network id")?
            .to_owned();
        let subnet = json!({"subnet": {
            "name": "bench-subnet", "network_id": network_id, "ip_version": 4, "cidr": cidr,
        }});
        let subnet = call(
            self.neutron(Method::POST, "/subnets").json(&subnet),
            StatusCode::CREATED,
        )
        .await
        .map_err(|e| format!("POST /v2.0/subnets: {e}"))?;
        let subnet_id = subnet["subnet"]["id"]
            .as_str()
            .ok_or("no subnet id")?
            .to_owned();
        Ok(Setup {
            network_id,
            subnet_id,
        })
    }

    /// `POST /v2.0/ports` on the setup's network; the port's id.
    pub async fn create_port(&self, setup: &Setup, name: &str) -> Res<String> {
        let body = json!({"port": {"network_id": setup.network_id, "name": name}});
        let port = call(
            self.neutron(Method::POST, "/ports").json(&body),
            StatusCode::CREATED,
        )
        .await
        .map_err(|e| format!("POST /v2.0/ports: {e}"))?;
        port["port"]["id"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("POST /v2.0/ports: no id in {port}"))
    }

    /// `DELETE /v2.0/ports/{id}`.
    pub async fn delete_port(&self, id: &str) -> Res<()> {
        let path = format!("/ports/{id}");
        call(self.neutron(Method::DELETE, &path), StatusCode::NO_CONTENT)
            .await
            .map(drop)
            .map_err(|e| format!("DELETE /v2.0{path}: {e}"))
    }

    /// Deletes the subnet and the network (the run's ports are gone).
    pub async fn cleanup(&self, setup: &Setup) -> Res<()> {
        for path in [
            format!("/subnets/{}", setup.subnet_id),
            format!("/networks/{}", setup.network_id),
        ] {
            call(self.neutron(Method::DELETE, &path), StatusCode::NO_CONTENT)
                .await
                .map_err(|e| format!("DELETE /v2.0{path}: {e}"))?;
        }
        Ok(())
    }
}

/// `count` creates by `concurrency` workers, then the same ports deleted
/// by as many; the two cells.
pub async fn create_delete(
    api: Arc<NetworkApi>,
    setup: Arc<Setup>,
    concurrency: usize,
    count: usize,
) -> (PortCell, PortCell) {
    let created = Arc::new(Mutex::new(Vec::with_capacity(count)));
    let create = {
        let (api, created) = (api.clone(), created.clone());
        closed_loop("create", concurrency, count, move |i| {
            let (api, setup, created) = (api.clone(), setup.clone(), created.clone());
            async move {
                let id = api
                    .create_port(&setup, &format!("bench-{concurrency}-{i}"))
                    .await?;
                created.lock().expect("port list").push(id);
                Ok(())
            }
        })
        .await
    };
    let ids: Arc<Vec<String>> = Arc::new(std::mem::take(&mut *created.lock().expect("port list")));
    let delete = closed_loop("delete", concurrency, ids.len(), move |i| {
        let (api, ids) = (api.clone(), ids.clone());
        async move { api.delete_port(&ids[i]).await }
    })
    .await;
    (create, delete)
}

/// Runs `op(0..count)` on `concurrency` workers, each starting its next
/// call when the previous one answered.
async fn closed_loop<F, Fut>(
    name: &'static str,
    concurrency: usize,
    count: usize,
    op: F,
) -> PortCell
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Res<()>> + Send + 'static,
{
    let op = Arc::new(op);
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..concurrency.max(1) {
        let (op, next) = (op.clone(), next.clone());
        workers.spawn(async move {
            let (mut times, mut errors, mut first_error) = (Vec::new(), 0u64, None);
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= count {
                    break;
                }
                let t = Instant::now();
                match op(i).await {
                    Ok(()) => times.push(t.elapsed()),
                    Err(e) => {
                        errors += 1;
                        first_error.get_or_insert(e);
                    }
                }
            }
            (times, errors, first_error)
        });
    }
    let (mut times, mut errors, mut first_error) = (Vec::new(), 0, None);
    while let Some(done) = workers.join_next().await {
        let (t, e, f) = done.expect("worker panicked");
        times.extend(t);
        errors += e;
        if first_error.is_none() {
            first_error = f;
        }
    }
    let elapsed = started.elapsed();
    times.sort_unstable();
    PortCell {
        op: name,
        concurrency,
        ok: times.len() as u64,
        errors,
        elapsed,
        p50: percentile(&times, 50.0),
        p99: percentile(&times, 99.0),
        first_error,
    }
}
