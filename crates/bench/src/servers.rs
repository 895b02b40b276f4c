//! The servers benchmark: how fast the compute API turns a `POST /servers`
//! into a running server and a `DELETE` into nothing.
//!
//! Two scenarios, both over the public APIs only:
//!
//! - `boot-delete` is Rally's `NovaServers.boot_and_delete_server`: each of
//!   `concurrency` workers repeatedly boots a server (`networks: "none"`),
//!   polls `GET /servers/{id}` until ACTIVE, deletes it and polls until
//!   404. Meant for the fake hypervisor, where no VM runs, so what is
//!   measured is the control plane (API, scheduler, placement claims,
//!   quota, host link, agent) and its behaviour under concurrency.
//! - `qemu-timing` boots and deletes one server at a time on a real
//!   hypervisor and splits the boot: how long the API takes to answer the
//!   POST, and how long after the POST was sent the `qemu-system-x86_64`
//!   process for that server appears. That second figure is the control
//!   plane's overhead before the hypervisor gets to work; everything after
//!   it is QEMU's.
//! - `validate-under-boot-delete` measures how compute traffic slows
//!   identity: token validation (`GET /v3/auth/tokens`, as the identity
//!   benchmark sends it) alone for one cell, then while `boot-delete` runs at
//!   each concurrency against the same cloud. Every boot and delete writes
//!   servers, placement, quota and agent reports; none of that changes a
//!   token's validity, so a validation cache that such writes empty shows
//!   here as validations/s falling further than the CPU the boots take
//!   explains (see docs/benchmarks.md).
//!
//! Before measuring, [`Cloud::prepare`] lifts the project's compute quota
//! (`instances`, `cores`, `ram` to -1: Nova's defaults of 10 instances
//! would cap concurrency 50), creates a small flavor and uploads the image
//! through the image API, so a run needs nothing but credentials and an
//! image file. One untimed boot-and-delete follows, so a broken setup stops
//! the run with its error, and the QEMU driver's base image cache is filled
//! before anything is timed.
//!
//! Times are taken when the answer that shows the new state arrives, so
//! boot-to-ACTIVE and delete-to-404 include up to one poll interval
//! (`--poll-ms`) of quantization; the poll requests themselves are part of
//! the load, as they are in Rally.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use reqwest::{Client, Method, RequestBuilder, StatusCode};
use serde_json::{json, Value};

use crate::identity::{Credentials, Op, Target};
use crate::load::{percentile, run_cell, Budget, Cell};
use crate::procfs::{process_cpu, ProcWatch};

/// The microversion sent to the compute API: the first that accepts
/// `networks: "none"`.
const COMPUTE_VERSION: &str = "compute 2.37";

type Res<T> = Result<T, String>;

/// What the benchmark creates before it measures.
#[derive(Debug, Clone)]
pub struct Setup {
    /// Image file to upload.
    pub image_file: PathBuf,
    /// Its disk format (`qcow2` or `raw`).
    pub image_format: String,
    /// Flavor vCPUs, RAM (MiB) and root disk (GiB).
    pub vcpus: u64,
    /// Flavor RAM, MiB.
    pub ram_mib: u64,
    /// Flavor root disk, GiB.
    pub disk_gib: u64,
}

/// How to wait for a server to change state.
#[derive(Debug, Clone, Copy)]
pub struct Polling {
    /// Pause between two `GET /servers/{id}`.
    pub interval: Duration,
    /// Give up waiting for one state after this long.
    pub timeout: Duration,
}

/// A logged-in cloud: token, project and the endpoints from the catalog.
#[derive(Debug, Clone)]
pub struct Cloud {
    client: Client,
    token: String,
    project_id: String,
    compute: String,
    image: String,
    image_id: String,
    flavor_id: String,
}

/// Sends `req` and returns its JSON body (`null` when empty), or an error
/// naming the request when the status is not `expected`.
pub(crate) async fn call(req: RequestBuilder, expected: StatusCode) -> Res<Value> {
    let (status, body) = send(req).await?;
    if status == expected {
        Ok(body)
    } else {
        Err(format!("HTTP {status}: {}", truncated(&body.to_string())))
    }
}

async fn send(req: RequestBuilder) -> Res<(StatusCode, Value)> {
    let resp = req
        .send()
        .await
        .map_err(|e| format!("transport error: {e}"))?;
    let status = resp.status();
    let bytes = resp
        .bytes()
        .await
        .map_err(|e| format!("transport error: {e}"))?;
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
    };
    Ok((status, body))
}

pub(crate) fn truncated(text: &str) -> String {
    text.chars().take(300).collect()
}

/// The public URL of `service_type` in a Keystone v3 token's catalog.
pub(crate) fn endpoint(token: &Value, service_type: &str) -> Res<String> {
    let catalog = token["token"]["catalog"].as_array();
    catalog
        .into_iter()
        .flatten()
        .filter(|s| s["type"] == service_type)
        .flat_map(|s| s["endpoints"].as_array().into_iter().flatten())
        .find(|e| e["interface"] == "public")
        .and_then(|e| e["url"].as_str())
        .map(|u| u.trim_end_matches('/').to_owned())
        .ok_or_else(|| format!("no public {service_type} endpoint in the catalog"))
}

impl Cloud {
    /// Logs in and finds the compute and image endpoints.
    pub async fn login(client: Client, auth_url: &str, creds: &Credentials) -> Res<Cloud> {
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
        Ok(Cloud {
            client,
            token,
            project_id: body["token"]["project"]["id"]
                .as_str()
                .ok_or("the token names no project")?
                .to_owned(),
            compute: endpoint(&body, "compute")?,
            image: endpoint(&body, "image")?,
            image_id: String::new(),
            flavor_id: String::new(),
        })
    }

    /// The same cloud through another controller: the catalog's host
    /// `from` replaced by `to` in the compute and image URLs (controllers
    /// of one cloud serve the same ports on their own addresses).
    pub fn via(&self, from: &str, to: &str) -> Cloud {
        let swap = |url: &str| url.replacen(&format!("//{from}:"), &format!("//{to}:"), 1);
        Cloud {
            compute: swap(&self.compute),
            image: swap(&self.image),
            ..self.clone()
        }
    }

    fn nova(&self, method: Method, path: &str) -> RequestBuilder {
        self.client
            .request(method, format!("{}{path}", self.compute))
            .header("X-Auth-Token", &self.token)
            .header("OpenStack-API-Version", COMPUTE_VERSION)
    }

    fn glance(&self, method: Method, path: &str) -> RequestBuilder {
        self.client
            .request(method, format!("{}{path}", self.image))
            .header("X-Auth-Token", &self.token)
    }

    /// Lifts the project's compute quota, creates the flavor and uploads
    /// the image; returns what it did, for the log.
    pub async fn prepare(&mut self, setup: &Setup) -> Res<String> {
        let quota = json!({"quota_set": {"instances": -1, "cores": -1, "ram": -1}});
        let path = format!("/os-quota-sets/{}", self.project_id);
        call(self.nova(Method::PUT, &path).json(&quota), StatusCode::OK)
            .await
            .map_err(|e| format!("PUT {path}: {e}"))?;

        let name = format!(
            "bench.{}c{}m{}g",
            setup.vcpus, setup.ram_mib, setup.disk_gib
        );
        let flavor = json!({"flavor": {
            "name": name, "vcpus": setup.vcpus, "ram": setup.ram_mib, "disk": setup.disk_gib,
        }});
        let (status, body) = send(self.nova(Method::POST, "/flavors").json(&flavor)).await?;
        self.flavor_id = match status {
            StatusCode::OK => body["flavor"]["id"].as_str().unwrap_or_default().to_owned(),
            // Already there from an earlier run against the same cloud.
            StatusCode::CONFLICT => {
                let list = call(self.nova(Method::GET, "/flavors"), StatusCode::OK).await?;
                let found = list["flavors"].as_array().into_iter().flatten();
                let found = found.clone().find(|f| f["name"] == name.as_str());
                found
                    .and_then(|f| f["id"].as_str())
                    .unwrap_or_default()
                    .to_owned()
            }
            _ => return Err(format!("POST /flavors: HTTP {status}: {body}")),
        };

        let data = std::fs::read(&setup.image_file)
            .map_err(|e| format!("reading {}: {e}", setup.image_file.display()))?;
        let image = json!({
            "name": "bench-image", "disk_format": setup.image_format, "container_format": "bare",
        });
        let created = call(
            self.glance(Method::POST, "/v2/images").json(&image),
            StatusCode::CREATED,
        )
        .await
        .map_err(|e| format!("POST /v2/images: {e}"))?;
        self.image_id = created["id"].as_str().unwrap_or_default().to_owned();
        let path = format!("/v2/images/{}/file", self.image_id);
        let size = data.len();
        let upload = self
            .glance(Method::PUT, &path)
            .header("Content-Type", "application/octet-stream")
            .body(data);
        call(upload, StatusCode::NO_CONTENT)
            .await
            .map_err(|e| format!("PUT {path}: {e}"))?;
        Ok(format!(
            "project {}: quota instances/cores/ram -1; flavor {name} ({}); image {} ({size} bytes)",
            self.project_id, self.flavor_id, self.image_id
        ))
    }

    /// `POST /servers`; the new server's id.
    async fn boot(&self, name: &str) -> Res<String> {
        let body = json!({"server": {
            "name": name, "imageRef": self.image_id, "flavorRef": self.flavor_id,
            "networks": "none",
        }});
        let created = call(
            self.nova(Method::POST, "/servers").json(&body),
            StatusCode::ACCEPTED,
        )
        .await
        .map_err(|e| format!("POST /servers: {e}"))?;
        created["server"]["id"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("POST /servers: no id in {created}"))
    }

    async fn delete(&self, id: &str) -> Res<()> {
        let path = format!("/servers/{id}");
        call(self.nova(Method::DELETE, &path), StatusCode::NO_CONTENT)
            .await
            .map(drop)
            .map_err(|e| format!("DELETE {path}: {e}"))
    }

    /// Polls until the server is ACTIVE, or gone (404 or DELETED) when
    /// `until_gone`, and returns when that answer arrived. ERROR ends the
    /// wait with the fault.
    async fn wait(&self, id: &str, until_gone: bool, poll: Polling) -> Res<Instant> {
        let path = format!("/servers/{id}");
        let started = Instant::now();
        loop {
            let (status, body) = send(self.nova(Method::GET, &path)).await?;
            let server = &body["server"];
            match (status, server["status"].as_str()) {
                // An admin can still read a deleted server (as in Nova);
                // Rally counts its DELETED as gone too.
                (StatusCode::NOT_FOUND, _) | (StatusCode::OK, Some("DELETED")) if until_gone => {
                    return Ok(Instant::now())
                }
                (StatusCode::OK, Some("ACTIVE")) if !until_gone => return Ok(Instant::now()),
                (StatusCode::OK, Some("ERROR")) => {
                    return Err(format!("server {id} went ERROR: {}", server["fault"]))
                }
                (StatusCode::OK, Some(_)) => {}
                _ => return Err(format!("GET {path}: HTTP {status}: {body}")),
            }
            if started.elapsed() > poll.timeout {
                let want = if until_gone { "404" } else { "ACTIVE" };
                let last = server["status"].as_str().unwrap_or("?");
                return Err(format!(
                    "server {id} not {want} after {:?} (last status {last}, task {})",
                    poll.timeout, server["OS-EXT-STS:task_state"]
                ));
            }
            tokio::time::sleep(poll.interval).await;
        }
    }

    /// One boot-and-delete: (whole cycle, POST to ACTIVE). A server left
    /// behind by a failure is deleted before the error is returned.
    pub async fn cycle(&self, name: &str, poll: Polling) -> Res<(Duration, Duration)> {
        let started = Instant::now();
        let id = self.boot(name).await?;
        let result = async {
            let active = self.wait(&id, false, poll).await?;
            self.delete(&id).await?;
            self.wait(&id, true, poll).await?;
            Ok((started.elapsed(), active - started))
        }
        .await;
        if result.is_err() && self.delete(&id).await.is_ok() {
            let _ = self.wait(&id, true, poll).await;
        }
        result
    }
}

/// Measurements of one boot-and-delete cell.
#[derive(Debug, Clone)]
pub struct CycleCell {
    /// Concurrent workers.
    pub concurrency: usize,
    /// Completed cycles.
    pub ok: u64,
    /// Failed cycles.
    pub errors: u64,
    /// From the first POST to the last 404.
    pub elapsed: Duration,
    /// Whole cycle p50/p99.
    pub cycle: [Duration; 2],
    /// POST to ACTIVE p50/p99.
    pub active: [Duration; 2],
    /// The first error, to say why `errors` is not zero.
    pub first_error: Option<String>,
    /// CPU time the server process used during the cell (`--server-pid`).
    pub server_cpu: Option<Duration>,
}

impl CycleCell {
    /// Completed cycles (servers booted and deleted) per second.
    pub fn rate(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Server CPU time per completed cycle.
    pub fn cpu_per_cycle(&self) -> Option<Duration> {
        let cycles = u32::try_from(self.ok).ok().filter(|&n| n > 0)?;
        Some(self.server_cpu? / cycles)
    }
}

/// Runs `concurrency` boot-and-delete workers until `budget` is spent.
pub async fn boot_delete(
    cloud: Arc<Cloud>,
    concurrency: usize,
    budget: Budget,
    poll: Polling,
    server_pid: Option<u32>,
) -> CycleCell {
    let pids: Vec<u32> = server_pid.into_iter().collect();
    boot_delete_across(&[cloud], concurrency, budget, poll, &pids).await
}

/// The CPU time the processes `pids` used so far (`None` when one is
/// unreadable or there are none).
pub fn processes_cpu(pids: &[u32]) -> Option<Duration> {
    if pids.is_empty() {
        return None;
    }
    pids.iter().map(|&p| process_cpu(p)).sum()
}

/// [`boot_delete`] spread over several controllers of one cloud: worker
/// `w` goes through `clouds[w % clouds.len()]`; `server_pids` are every
/// server process whose CPU the cell counts.
pub async fn boot_delete_across(
    clouds: &[Arc<Cloud>],
    concurrency: usize,
    budget: Budget,
    poll: Polling,
    server_pids: &[u32],
) -> CycleCell {
    let cpu_before = processes_cpu(server_pids);
    let remaining = Arc::new(AtomicU64::new(match budget {
        Budget::Requests(n) => n,
        Budget::Time(_) => u64::MAX,
    }));
    let started = Instant::now();
    let deadline = match budget {
        Budget::Time(d) => Some(started + d),
        Budget::Requests(_) => None,
    };
    let workers: Vec<_> = (0..concurrency.max(1))
        .map(|w| {
            let cloud = Arc::clone(&clouds[w % clouds.len()]);
            let remaining = Arc::clone(&remaining);
            tokio::spawn(async move {
                let (mut cycles, mut actives, mut errors) = (Vec::new(), Vec::new(), Vec::new());
                for n in 0.. {
                    let take = |n: u64| n.checked_sub(1);
                    if deadline.is_some_and(|d| Instant::now() >= d)
                        || remaining
                            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, take)
                            .is_err()
                    {
                        break;
                    }
                    match cloud.cycle(&format!("bench-{w}-{n}"), poll).await {
                        Ok((cycle, active)) => {
                            cycles.push(cycle);
                            actives.push(active);
                        }
                        Err(e) => {
                            errors.push(e);
                            // A failing cloud should not be hammered in a tight loop.
                            tokio::time::sleep(poll.interval).await;
                        }
                    }
                }
                (cycles, actives, errors)
            })
        })
        .collect();
    let (mut cycles, mut actives, mut errors) = (Vec::new(), Vec::new(), Vec::new());
    for handle in workers {
        match handle.await {
            Ok((c, a, e)) => {
                cycles.extend(c);
                actives.extend(a);
                errors.extend(e);
            }
            Err(join_error) => errors.push(format!("worker failed: {join_error}")),
        }
    }
    let elapsed = started.elapsed();
    let cpu_after = processes_cpu(server_pids);
    cycles.sort_unstable();
    actives.sort_unstable();
    let p = |v: &[Duration]| [percentile(v, 50.0), percentile(v, 99.0)];
    CycleCell {
        concurrency,
        ok: cycles.len() as u64,
        errors: errors.len() as u64,
        elapsed,
        cycle: p(&cycles),
        active: p(&actives),
        first_error: errors.into_iter().next(),
        server_cpu: cpu_before.zip(cpu_after).map(|(b, a)| a.saturating_sub(b)),
    }
}

/// One cell of `validate-under-boot-delete`: token validation, alone or
/// next to boot-and-delete.
#[derive(Debug, Clone)]
pub struct MixedCell {
    /// The validation load.
    pub validate: Cell,
    /// The boot-and-delete load that ran at the same time, if any.
    pub boot: Option<CycleCell>,
    /// CPU time the server process used during the cell (`--server-pid`).
    pub server_cpu: Option<Duration>,
}

impl MixedCell {
    /// Cores the server kept busy: its CPU time over the cell's wall time.
    pub fn server_cores(&self) -> Option<f64> {
        let wall = self.validate.elapsed.as_secs_f64().max(1e-9);
        Some(self.server_cpu?.as_secs_f64() / wall)
    }
}

/// Token validation at `validate_concurrency` for `duration`, first alone,
/// then next to boot-and-delete at each of `boot_concurrencies`.
pub async fn validate_under_boot_delete(
    cloud: Arc<Cloud>,
    target: Arc<Target>,
    validate_concurrency: usize,
    boot_concurrencies: &[usize],
    duration: Duration,
    poll: Polling,
    server_pid: Option<u32>,
) -> Vec<MixedCell> {
    let budget = Budget::Time(duration);
    let mut out = Vec::new();
    for boot in std::iter::once(None).chain(boot_concurrencies.iter().copied().map(Some)) {
        match boot {
            None => eprintln!("token-validate x{validate_concurrency} alone ..."),
            Some(c) => eprintln!("token-validate x{validate_concurrency} + boot-delete x{c} ..."),
        }
        let cpu_before = server_pid.and_then(process_cpu);
        let validate = run_cell(
            Arc::clone(&target),
            Op::Validate,
            validate_concurrency,
            budget,
        );
        let (validate, boot) = match boot {
            None => (validate.await, None),
            Some(c) => {
                // The CPU per cycle would count validations too: left out.
                let boots = boot_delete(Arc::clone(&cloud), c, budget, poll, None);
                let (v, b) = tokio::join!(validate, boots);
                (v, Some(b))
            }
        };
        let cpu_after = server_pid.and_then(process_cpu);
        out.push(MixedCell {
            validate,
            boot,
            server_cpu: cpu_before.zip(cpu_after).map(|(b, a)| a.saturating_sub(b)),
        });
    }
    out
}

/// One sequential boot-and-delete on a real hypervisor.
#[derive(Debug, Clone, Default)]
pub struct SpawnRun {
    /// The server.
    pub id: String,
    /// POST sent to its 202 read.
    pub post: Duration,
    /// POST sent to the first sight of its `qemu-system-x86_64` in /proc.
    pub exec: Option<Duration>,
    /// POST sent to the mtime of its `qemu.pid` (QEMU writes it once
    /// initialized); only with `--instances-dir`.
    pub pidfile: Option<Duration>,
    /// POST sent to the answer that showed ACTIVE.
    pub active: Duration,
    /// DELETE sent to the answer that showed 404.
    pub gone: Duration,
}

/// Boots and deletes `runs` servers one after the other, timing each step.
pub async fn qemu_timing(
    cloud: &Cloud,
    runs: usize,
    instances_dir: Option<&Path>,
    poll: Polling,
) -> Res<Vec<SpawnRun>> {
    let mut out = Vec::new();
    for n in 0..runs {
        eprintln!("qemu-timing: run {}/{runs} ...", n + 1);
        let watch = ProcWatch::start();
        let wall = SystemTime::now();
        let sent = Instant::now();
        let id = cloud.boot(&format!("bench-qemu-{n}")).await?;
        let post = sent.elapsed();
        let active = cloud.wait(&id, false, poll).await;
        let seen = watch.stop();
        let active = active? - sent;
        let exec = seen
            .iter()
            .filter(|(cmdline, _)| cmdline.contains(&id))
            .map(|(_, at)| at.saturating_duration_since(sent))
            .min();
        let pidfile = instances_dir.and_then(|dir| {
            let modified = std::fs::metadata(dir.join(&id).join("qemu.pid"))
                .and_then(|m| m.modified())
                .ok()?;
            modified.duration_since(wall).ok()
        });
        let deleting = Instant::now();
        cloud.delete(&id).await?;
        let gone = cloud.wait(&id, true, poll).await? - deleting;
        out.push(SpawnRun {
            id,
            post,
            exec,
            pidfile,
            active,
            gone,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_picks_the_public_url_of_a_type() {
        let token = json!({"token": {"catalog": [
            {"type": "image", "endpoints": [{"interface": "public", "url": "http://i/"}]},
            {"type": "compute", "endpoints": [
                {"interface": "internal", "url": "http://internal/v2.1"},
                {"interface": "public", "url": "http://c/v2.1"},
            ]},
        ]}});
        assert_eq!(endpoint(&token, "compute").unwrap(), "http://c/v2.1");
        assert_eq!(endpoint(&token, "image").unwrap(), "http://i");
        assert!(endpoint(&token, "volume").is_err());
    }
}
