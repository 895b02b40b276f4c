//! `controllers`: what PostgreSQL and several controllers cost and buy
//! (issue 14), in one run that starts every cloud it measures.
//!
//! Each topology is a fresh cloud: SQLite with one controller (the
//! embedded default), PostgreSQL with one, with three, and, to see how
//! throughput scales with cores, one controller pinned to one CPU against
//! two pinned to one CPU each. The first controller runs the fake
//! hypervisor's compute host; the others are `--no-compute` controllers
//! on the same database, started with a copy of the first one's shared
//! secrets (as deploy copies them). Controllers of one cloud bind the
//! same ports on their own loopback addresses (127.0.0.2, .3, ...), as
//! controllers on separate machines behind a load balancer would; the
//! benchmark is its own balancer, sending worker `w` to controller
//! `w % n`.
//!
//! Per topology: token validation at `--concurrency` (tokens issued by the
//! first controller, validated by all), fake-hypervisor boot-and-delete at
//! `--boot-concurrency`, and how long a role removed through the first
//! controller takes to stop a token on the last one (the cross-controller
//! invalidation; on one controller the same path inside one process).
//! CPU time comes from `/proc`: the controllers' and, separately,
//! PostgreSQL's (its postmaster and backends), so "per validated token"
//! and "per cycle" can be compared whatever else the machine runs.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::{Client, Method, StatusCode};
use serde_json::{json, Value};

use crate::allinone::{common_ports, Allinone, Spec};
use crate::identity::{Credentials, Op, Target};
use crate::load::{run_cell_across, Budget, Cell};
use crate::procfs::process_tree_cpu;
use crate::servers::{boot_delete_across, processes_cpu, Cloud, CycleCell, Polling, Setup};

type Res<T> = Result<T, String>;

/// One cloud to measure.
#[derive(Debug, Clone)]
pub struct Topology {
    /// Its name in the table.
    pub name: String,
    /// On PostgreSQL (else SQLite).
    pub postgres: bool,
    /// CPU of each controller (`None`: unpinned); one entry per controller.
    pub cpus: Vec<Option<usize>>,
}

impl Topology {
    /// The default set: SQLite x1, PostgreSQL x1 and x3, and the pinned
    /// pair (x1 on CPU `last`, x2 on CPUs 0 and `last`) when there are two
    /// CPUs or more.
    pub fn standard(cpus: usize) -> Vec<Topology> {
        let t = |name: &str, postgres, cpus: Vec<Option<usize>>| Topology {
            name: name.into(),
            postgres,
            cpus,
        };
        let mut all = vec![
            t("sqlite x1", false, vec![None]),
            t("postgresql x1", true, vec![None]),
            t("postgresql x3", true, vec![None; 3]),
        ];
        if cpus >= 2 {
            let last = cpus - 1;
            all.push(t(
                &format!("postgresql x1 @cpu{last}"),
                true,
                vec![Some(last)],
            ));
            all.push(t(
                &format!("postgresql x2 @cpu0,{last}"),
                true,
                vec![Some(0), Some(last)],
            ));
        }
        all
    }
}

/// What to run in each topology.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The ferrostack binary.
    pub bin: PathBuf,
    /// The image booted by boot-and-delete (any file the image API takes).
    pub image_file: PathBuf,
    /// Token validation workers.
    pub concurrency: usize,
    /// Seconds of token validation.
    pub duration: Duration,
    /// Boot-and-delete workers.
    pub boot_concurrency: usize,
    /// Seconds of boot-and-delete.
    pub boot_duration: Duration,
    /// Role removals timed for the invalidation figure.
    pub samples: usize,
}

/// The figures of one topology.
#[derive(Debug)]
pub struct Figures {
    /// Controllers in it.
    pub controllers: usize,
    /// Token validation.
    pub validate: Cell,
    /// Controllers' CPU during validation.
    pub validate_cpu: Option<Duration>,
    /// PostgreSQL's CPU during validation.
    pub validate_db_cpu: Option<Duration>,
    /// Boot-and-delete (its `server_cpu` is the controllers').
    pub boot: CycleCell,
    /// PostgreSQL's CPU during boot-and-delete.
    pub boot_db_cpu: Option<Duration>,
    /// Role removed on the first controller until a token stops on the
    /// last, sorted.
    pub invalidation: Vec<Duration>,
}

/// Runs every topology in turn (each cloud is stopped before the next).
/// The clouds are started and stopped outside the async runtime: the
/// PostgreSQL client that makes and drops their databases blocks.
pub fn run(plan: &Plan, topologies: &[Topology]) -> Res<Vec<(String, Res<Figures>)>> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let mut all = Vec::new();
    for topology in topologies {
        eprintln!("controllers: {} ...", topology.name);
        let figures = Cluster::start(plan, topology)
            .and_then(|cluster| runtime.block_on(measure(plan, &cluster)));
        if let Err(e) = &figures {
            eprintln!("controllers: {}: {e}", topology.name);
        }
        all.push((topology.name.clone(), figures));
    }
    Ok(all)
}

/// A running cloud of one or more controllers, and its database's server.
struct Cluster {
    controllers: Vec<Allinone>,
    addresses: Vec<String>,
    /// The PostgreSQL postmaster (for its CPU), none on SQLite.
    postmaster: Option<u32>,
    /// Keeps the test database alive while the cloud runs.
    _database: Option<ferrostack_store::testing::postgres::TestDatabase>,
}

impl Cluster {
    fn start(plan: &Plan, topology: &Topology) -> Res<Cluster> {
        let database = if topology.postgres {
            Some(
                ferrostack_store::testing::postgres::database()
                    .ok_or("PostgreSQL is not installed (Debian: apt-get install postgresql)")?,
            )
        } else {
            None
        };
        let postmaster = match &database {
            Some(db) => Some(postmaster_pid(db)?),
            None => None,
        };
        let addresses: Vec<String> = (0..topology.cpus.len())
            .map(|i| format!("127.0.0.{}", i + 2))
            .collect();
        let on: Vec<&str> = addresses.iter().map(String::as_str).collect();
        let ports = common_ports(&on)?;
        let mut controllers: Vec<Allinone> = Vec::new();
        for (i, (address, cpu)) in addresses.iter().zip(&topology.cpus).enumerate() {
            let spec = Spec {
                database: database.as_ref().map(|d| d.url()),
                bind: address.clone(),
                public_host: addresses[0].clone(),
                ports: ports.clone(),
                no_compute: i > 0,
                secrets_from: controllers.first().map(Allinone::data_dir),
                cpu: *cpu,
                ..Spec::default()
            };
            controllers.push(Allinone::launch(
                &plan.bin,
                Duration::from_secs(120),
                &spec,
            )?);
        }
        Ok(Cluster {
            controllers,
            addresses,
            postmaster,
            _database: database,
        })
    }

    fn pids(&self) -> Vec<u32> {
        self.controllers.iter().map(Allinone::pid).collect()
    }

    fn db_cpu(&self) -> Option<Duration> {
        self.postmaster.and_then(process_tree_cpu)
    }

    fn auth_url(&self, i: usize) -> String {
        self.controllers[i].auth_url.clone()
    }
}

/// The postmaster of the test database's server, from `postmaster.pid`.
fn postmaster_pid(db: &ferrostack_store::testing::postgres::TestDatabase) -> Res<u32> {
    let mut client = db.connect();
    let row = client
        .query_one("SHOW data_directory", &[])
        .map_err(|e| format!("SHOW data_directory: {e}"))?;
    let dir: String = row.get(0);
    let text = std::fs::read_to_string(format!("{dir}/postmaster.pid"))
        .map_err(|e| format!("{dir}/postmaster.pid: {e}"))?;
    text.lines()
        .next()
        .and_then(|l| l.trim().parse().ok())
        .ok_or_else(|| format!("{dir}/postmaster.pid names no process"))
}

fn delta(before: Option<Duration>, after: Option<Duration>) -> Option<Duration> {
    before.zip(after).map(|(b, a)| a.saturating_sub(b))
}

async fn measure(plan: &Plan, cluster: &Cluster) -> Res<Figures> {
    let n = cluster.controllers.len();
    let client = Client::builder()
        .pool_max_idle_per_host(plan.concurrency.max(plan.boot_concurrency))
        .timeout(Duration::from_secs(60))
        .build()
        .map_err(|e| e.to_string())?;
    let creds = Credentials {
        username: "admin".into(),
        password: cluster.controllers[0].password.clone(),
        project: "admin".into(),
        user_domain: "Default".into(),
        project_domain: "Default".into(),
    };

    // Token validation: tokens from the first controller, checked by all.
    let first = Target::connect(client.clone(), &cluster.auth_url(0), &creds)
        .await
        .map_err(|e| format!("login: {e}"))?;
    let mut targets = vec![Arc::new(first)];
    for i in 1..n {
        targets.push(Arc::new(targets[0].elsewhere(&cluster.auth_url(i))));
    }
    for (i, t) in targets.iter().enumerate() {
        t.call(Op::Validate)
            .await
            .map_err(|e| format!("controller {}: warm-up validation: {e}", i + 1))?;
    }
    let pids = cluster.pids();
    let (cpu0, db0) = (processes_cpu(&pids), cluster.db_cpu());
    let validate = run_cell_across(
        &targets,
        Op::Validate,
        plan.concurrency,
        Budget::Time(plan.duration),
    )
    .await;
    let (validate_cpu, validate_db_cpu) = (
        delta(cpu0, processes_cpu(&pids)),
        delta(db0, cluster.db_cpu()),
    );

    // Boot-and-delete through every controller.
    let mut cloud = Cloud::login(client.clone(), &cluster.auth_url(0), &creds).await?;
    cloud
        .prepare(&Setup {
            image_file: plan.image_file.clone(),
            image_format: "qcow2".into(),
            vcpus: 1,
            ram_mib: 64,
            disk_gib: 0,
        })
        .await?;
    let clouds: Vec<Arc<Cloud>> = cluster
        .addresses
        .iter()
        .map(|a| Arc::new(cloud.via(&cluster.addresses[0], a)))
        .collect();
    let poll = Polling {
        interval: Duration::from_millis(20),
        timeout: Duration::from_secs(120),
    };
    for (i, c) in clouds.iter().enumerate() {
        c.cycle(&format!("bench-warm-up-{i}"), poll)
            .await
            .map_err(|e| format!("controller {}: warm-up boot-and-delete: {e}", i + 1))?;
    }
    let db0 = cluster.db_cpu();
    let boot = boot_delete_across(
        &clouds,
        plan.boot_concurrency,
        Budget::Time(plan.boot_duration),
        poll,
        &pids,
    )
    .await;
    let boot_db_cpu = delta(db0, cluster.db_cpu());

    let invalidation = invalidation(&client, cluster, &targets, plan.samples).await?;
    Ok(Figures {
        controllers: n,
        validate,
        validate_cpu,
        validate_db_cpu,
        boot,
        boot_db_cpu,
        invalidation,
    })
}

/// Sends `req` with the admin token and checks the status.
async fn admin(
    client: &Client,
    token: &str,
    method: Method,
    url: String,
    body: Option<Value>,
    expected: StatusCode,
) -> Res<Value> {
    let mut req = client
        .request(method.clone(), &url)
        .header("X-Auth-Token", token);
    if let Some(body) = body {
        req = req.json(&body);
    }
    crate::servers::call(req, expected)
        .await
        .map_err(|e| format!("{method} {url}: {e}"))
}

/// From a role removal answered by the first controller until a token of
/// that role stops validating on the last one, `samples` times.
async fn invalidation(
    client: &Client,
    cluster: &Cluster,
    targets: &[Arc<Target>],
    samples: usize,
) -> Res<Vec<Duration>> {
    let base = cluster.auth_url(0);
    let last = cluster.auth_url(cluster.controllers.len() - 1);
    let token = targets[0].admin_token().to_owned();
    let get = |url: String| admin(client, &token, Method::GET, url, None, StatusCode::OK);
    let roles = get(format!("{base}/roles?name=member")).await?;
    let role = roles["roles"][0]["id"]
        .as_str()
        .ok_or("no member role")?
        .to_owned();
    let projects = get(format!("{base}/projects?name=admin")).await?;
    let project = projects["projects"][0]["id"]
        .as_str()
        .ok_or("no admin project")?
        .to_owned();
    let user = admin(
        client,
        &token,
        Method::POST,
        format!("{base}/users"),
        Some(
            json!({"user": {"name": "bench-invalidation", "password": "bench-invalidation-pw",
                             "domain_id": "default"}}),
        ),
        StatusCode::CREATED,
    )
    .await?;
    let user = user["user"]["id"].as_str().ok_or("no user id")?.to_owned();
    let grant = format!("{base}/projects/{project}/users/{user}/roles/{role}");
    let login = json!({"auth": {
        "identity": {"methods": ["password"], "password": {"user": {
            "id": user, "password": "bench-invalidation-pw"}}},
        "scope": {"project": {"id": project}},
    }});
    let mut took = Vec::with_capacity(samples);
    for _ in 0..samples {
        admin(
            client,
            &token,
            Method::PUT,
            grant.clone(),
            None,
            StatusCode::NO_CONTENT,
        )
        .await?;
        let resp = client
            .post(format!("{base}/auth/tokens"))
            .json(&login)
            .send()
            .await
            .map_err(|e| format!("login as the bench user: {e}"))?;
        let subject = resp
            .headers()
            .get("X-Subject-Token")
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| format!("login as the bench user: HTTP {}", resp.status()))?
            .to_owned();
        let validate = || {
            client
                .get(format!("{last}/auth/tokens"))
                .header("X-Auth-Token", &token)
                .header("X-Subject-Token", &subject)
                .send()
        };
        let status = validate().await.map_err(|e| e.to_string())?.status();
        if status != StatusCode::OK {
            return Err(format!(
                "a fresh token does not validate on the last controller: {status}"
            ));
        }
        admin(
            client,
            &token,
            Method::DELETE,
            grant.clone(),
            None,
            StatusCode::NO_CONTENT,
        )
        .await?;
        // From the removal's answer: how long a client told "done" may
        // still see the role honoured elsewhere.
        let removed = Instant::now();
        loop {
            let status = validate().await.map_err(|e| e.to_string())?.status();
            if status == StatusCode::NOT_FOUND || status == StatusCode::UNAUTHORIZED {
                took.push(removed.elapsed());
                break;
            }
            if removed.elapsed() > Duration::from_secs(10) {
                return Err("a token still validated 10 s after its role was removed".into());
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    took.sort_unstable();
    Ok(took)
}
