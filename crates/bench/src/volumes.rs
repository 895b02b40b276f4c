//! The block storage benchmark (issue 12, item 6): how long a user waits
//! for a volume, through the public APIs of a running cloud.
//!
//! - a blank 10 GiB volume: `POST /volumes` until `GET` says `available`;
//! - a volume from a 1 GiB image (qcow2, 1 GiB virtual, some data): the
//!   same, copy-on-write in the local backend;
//! - attaching to a running guest until the guest sees the disk: `POST
//!   os-volume_attachments` until the guest's console (a user_data script
//!   printing each new disk's serial) names the volume; then the detach
//!   until the volume is `available` again.
//!
//! Each figure is a series of sequential samples (p50 and max), polled
//! every 2 ms for the API and every 50 ms for the console. The goals are
//! the issue's: create <= 20 ms, from image <= 100 ms, attach <= 1 s.
//! What a backup costs is the backend's part (`cargo run --release -p
//! ferrostack-volume --example backend_bench`), until the backup API is
//! served.

use std::path::Path;
use std::time::{Duration, Instant};

use base64::Engine;
use reqwest::{Client, Method, RequestBuilder, StatusCode};
use serde_json::{json, Value};

use crate::identity::Credentials;
use crate::servers::{call, endpoint, truncated};

type Res<T> = Result<T, String>;

/// A logged-in project with the compute, image and block storage
/// endpoints from the catalog.
pub struct VolumeApi {
    client: Client,
    token: String,
    project_id: String,
    compute: String,
    image: String,
    /// `.../v3/{project_id}`.
    volume: String,
}

/// One measured series.
#[derive(Debug, Clone)]
pub struct Series {
    /// What was measured.
    pub name: String,
    /// The goal, as text.
    pub goal: &'static str,
    /// Samples taken.
    pub samples: Vec<Duration>,
    /// Why there are none, when there are none.
    pub error: Option<String>,
}

impl Series {
    fn percentile(&self, p: f64) -> Option<Duration> {
        let mut s = self.samples.clone();
        s.sort();
        let i = ((s.len() as f64 - 1.0) * p).round() as usize;
        s.get(i).copied()
    }
}

/// A watcher printing each new disk's serial on the console.
const WATCHER: &str = r#"#!/bin/sh
(
  seen=""
  while :; do
    now=""
    for d in /sys/block/vd*; do
      s=$(cat "$d/serial" 2>/dev/null)
      [ -n "$s" ] || continue
      now="$now $s"
      case " $seen " in *" $s "*) ;; *) echo "bench-disk $s" ;; esac
    done
    seen="$now"
    usleep 20000
  done
) >/dev/console 2>&1 &
"#;

impl VolumeApi {
    /// Logs in (project scope) and finds the endpoints.
    pub async fn login(client: Client, auth_url: &str, creds: &Credentials) -> Res<VolumeApi> {
        let body = json!({"auth": {
            "identity": {"methods": ["password"], "password": {"user": {
                "name": creds.username, "password": creds.password,
                "domain": {"name": creds.user_domain},
            }}},
            "scope": {"project": {"name": creds.project, "domain": {"name": creds.project_domain}}},
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
        let project_id = body["token"]["project"]["id"]
            .as_str()
            .ok_or("the token names no project")?
            .to_owned();
        let volume = endpoint(&body, "volumev3")?;
        Ok(VolumeApi {
            client,
            token,
            compute: endpoint(&body, "compute")?,
            image: endpoint(&body, "image")?,
            volume: volume.replace("%(project_id)s", &project_id),
            project_id,
        })
    }

    fn at(&self, base: &str, method: Method, path: &str) -> RequestBuilder {
        self.client
            .request(method, format!("{base}{path}"))
            .header("X-Auth-Token", &self.token)
    }

    fn cinder(&self, method: Method, path: &str) -> RequestBuilder {
        self.at(&self.volume, method, path)
            .header("OpenStack-API-Version", "volume 3.71")
    }

    fn nova(&self, method: Method, path: &str) -> RequestBuilder {
        self.at(&self.compute, method, path)
            .header("OpenStack-API-Version", "compute 2.96")
    }

    /// Lifts the project's volume and compute quotas.
    pub async fn lift_quotas(&self) -> Res<()> {
        let path = format!("/os-quota-sets/{}", self.project_id);
        let q = json!({"quota_set": {"volumes": -1, "gigabytes": -1, "snapshots": -1}});
        call(self.cinder(Method::PUT, &path).json(&q), StatusCode::OK)
            .await
            .map_err(|e| format!("PUT volume {path}: {e}"))?;
        let q = json!({"quota_set": {"instances": -1, "cores": -1, "ram": -1}});
        call(self.nova(Method::PUT, &path).json(&q), StatusCode::OK)
            .await
            .map_err(|e| format!("PUT compute {path}: {e}"))?;
        Ok(())
    }

    /// Uploads `file` as an image of `format`; its id.
    pub async fn upload_image(&self, name: &str, file: &Path, format: &str) -> Res<String> {
        let data = std::fs::read(file).map_err(|e| format!("reading {}: {e}", file.display()))?;
        let body = json!({"name": name, "disk_format": format, "container_format": "bare"});
        let created = call(
            self.at(&self.image, Method::POST, "/v2/images").json(&body),
            StatusCode::CREATED,
        )
        .await?;
        let id = created["id"].as_str().unwrap_or_default().to_owned();
        let put = self
            .at(&self.image, Method::PUT, &format!("/v2/images/{id}/file"))
            .header("Content-Type", "application/octet-stream")
            .body(data);
        call(put, StatusCode::NO_CONTENT).await?;
        Ok(id)
    }

    /// `POST /volumes` with `body`, then polls until `available`: the id
    /// and the time from the POST to the answer saying `available`.
    pub async fn create_timed(&self, body: Value) -> Res<(String, Duration)> {
        let started = Instant::now();
        let created = call(
            self.cinder(Method::POST, "/volumes")
                .json(&json!({ "volume": body })),
            StatusCode::ACCEPTED,
        )
        .await
        .map_err(|e| format!("POST /volumes: {e}"))?;
        let id = created["volume"]["id"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        self.wait_status(&id, "available", Duration::from_millis(2))
            .await?;
        Ok((id, started.elapsed()))
    }

    async fn wait_status(&self, id: &str, want: &str, every: Duration) -> Res<()> {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let v = call(
                self.cinder(Method::GET, &format!("/volumes/{id}")),
                StatusCode::OK,
            )
            .await?;
            match v["volume"]["status"].as_str() {
                Some(s) if s == want => return Ok(()),
                Some("error") => return Err(format!("volume {id} went to error")),
                _ if Instant::now() > deadline => {
                    return Err(format!("volume {id} not {want} after 120 s"))
                }
                _ => tokio::time::sleep(every).await,
            }
        }
    }

    /// Deletes a volume.
    pub async fn delete(&self, id: &str) -> Res<()> {
        call(
            self.cinder(Method::DELETE, &format!("/volumes/{id}")),
            StatusCode::ACCEPTED,
        )
        .await
        .map(drop)
    }

    /// Boots a guest running the disk watcher; its id once it is ACTIVE
    /// and the watcher runs.
    pub async fn boot_watcher(&self, image: &str) -> Res<String> {
        let flavor = json!({"flavor": {"name": "bench.vol", "vcpus": 1, "ram": 256, "disk": 1}});
        let f = call(
            self.nova(Method::POST, "/flavors").json(&flavor),
            StatusCode::OK,
        )
        .await?;
        let user_data = base64::engine::general_purpose::STANDARD.encode(WATCHER);
        let body = json!({"server": {
            "name": "bench-vol", "imageRef": image, "flavorRef": f["flavor"]["id"],
            "networks": "none", "user_data": user_data,
        }});
        let s = call(
            self.nova(Method::POST, "/servers").json(&body),
            StatusCode::ACCEPTED,
        )
        .await?;
        let id = s["server"]["id"].as_str().unwrap_or_default().to_owned();
        let deadline = Instant::now() + Duration::from_secs(180);
        loop {
            let out = self.console(&id).await.unwrap_or_default();
            if out.contains("ferrostack-guest: user-data exit") {
                return Ok(id);
            }
            if Instant::now() > deadline {
                return Err(format!("guest {id} not up after 180 s:\n{out}"));
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// Deletes a server and waits until it is gone (404, or `DELETED`
    /// to an admin, as Nova shows it).
    pub async fn delete_server(&self, server: &str) -> Res<()> {
        let path = format!("/servers/{server}");
        call(self.nova(Method::DELETE, &path), StatusCode::NO_CONTENT).await?;
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let gone = match self.nova(Method::GET, &path).send().await {
                Ok(r) if r.status() == StatusCode::NOT_FOUND => true,
                Ok(r) => {
                    let body: Value = r.json().await.unwrap_or(Value::Null);
                    body["server"]["status"] == "DELETED"
                }
                Err(_) => false,
            };
            if gone {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!("server {server} not gone after 60 s"));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    async fn console(&self, server: &str) -> Res<String> {
        let body = json!({"os-getConsoleOutput": {}});
        let path = format!("/servers/{server}/action");
        let out = call(self.nova(Method::POST, &path).json(&body), StatusCode::OK).await?;
        Ok(out["output"].as_str().unwrap_or_default().to_owned())
    }

    /// Attaches `volume` to `server` and waits until the guest prints its
    /// serial; then detaches it and waits until it is `available`. The
    /// attach time.
    pub async fn attach_timed(&self, server: &str, volume: &str) -> Res<Duration> {
        let serial: String = volume.chars().take(20).collect();
        let line = format!("bench-disk {serial}");
        let before = self.console(server).await?.matches(&line).count();
        let started = Instant::now();
        let body = json!({"volumeAttachment": {"volumeId": volume}});
        let path = format!("/servers/{server}/os-volume_attachments");
        call(self.nova(Method::POST, &path).json(&body), StatusCode::OK).await?;
        let deadline = started + Duration::from_secs(60);
        loop {
            if self.console(server).await?.matches(&line).count() > before {
                break;
            }
            if Instant::now() > deadline {
                return Err(format!("the guest never saw {serial}"));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let took = started.elapsed();
        let path = format!("/servers/{server}/os-volume_attachments/{volume}");
        call(self.nova(Method::DELETE, &path), StatusCode::ACCEPTED).await?;
        self.wait_status(volume, "available", Duration::from_millis(50))
            .await?;
        Ok(took)
    }
}

/// Runs `samples` of each figure; a figure that cannot be measured says why.
pub async fn run(
    api: &VolumeApi,
    samples: usize,
    guest: Option<&Path>,
    work: &Path,
) -> Vec<Series> {
    let mut out = Vec::new();
    if let Err(e) = api.lift_quotas().await {
        let fail = |name: &str, goal| Series {
            name: name.into(),
            goal,
            samples: Vec::new(),
            error: Some(e.clone()),
        };
        return vec![fail("setup", "")];
    }
    let mut blank = Series {
        name: "blank 10 GiB volume, create to available".into(),
        goal: "<= 20 ms",
        samples: Vec::new(),
        error: None,
    };
    for _ in 0..samples {
        match api.create_timed(json!({"size": 10})).await {
            Ok((id, t)) => {
                blank.samples.push(t);
                let _ = api.delete(&id).await;
            }
            Err(e) => {
                blank.error = Some(e);
                break;
            }
        }
    }
    out.push(blank);

    let mut from_image = Series {
        name: "volume from a 1 GiB image, create to available".into(),
        goal: "<= 100 ms",
        samples: Vec::new(),
        error: None,
    };
    match one_gib_image(api, work).await {
        Ok(image) => {
            for _ in 0..samples {
                match api
                    .create_timed(json!({"size": 1, "imageRef": image}))
                    .await
                {
                    Ok((id, t)) => {
                        from_image.samples.push(t);
                        let _ = api.delete(&id).await;
                    }
                    Err(e) => {
                        from_image.error = Some(e);
                        break;
                    }
                }
            }
        }
        Err(e) => from_image.error = Some(e),
    }
    out.push(from_image);

    let mut attach = Series {
        name: "attach to a running guest until it sees the disk".into(),
        goal: "<= 1 s",
        samples: Vec::new(),
        error: None,
    };
    match guest {
        None => {
            attach.error = Some("no guest image (--guest-image), or the fake hypervisor".into())
        }
        Some(path) => {
            let run = async {
                let image = api.upload_image("bench-guest", path, "qcow2").await?;
                let server = api.boot_watcher(&image).await?;
                let measured = async {
                    let (volume, _) = api.create_timed(json!({"size": 1})).await?;
                    for _ in 0..samples.min(10) {
                        attach
                            .samples
                            .push(api.attach_timed(&server, &volume).await?);
                    }
                    Ok::<_, String>(())
                }
                .await;
                // The guest goes with the run (a VM outlives its controller).
                api.delete_server(&server).await?;
                measured
            };
            if let Err(e) = run.await {
                attach.error = Some(e);
            }
        }
    }
    out.push(attach);
    out
}

/// A qcow2 image of 1 GiB virtual size with 64 MiB of data, uploaded.
async fn one_gib_image(api: &VolumeApi, work: &Path) -> Res<String> {
    let file = work.join("one-gib.qcow2");
    let run = |args: &[&str]| {
        std::process::Command::new(args[0])
            .args(&args[1..])
            .output()
            .map_err(|e| format!("{}: {e}", args[0]))
            .and_then(|o| {
                o.status
                    .success()
                    .then_some(())
                    .ok_or_else(|| String::from_utf8_lossy(&o.stderr).into_owned())
            })
    };
    let path = file.to_string_lossy().into_owned();
    run(&["qemu-img", "create", "-q", "-f", "qcow2", &path, "1G"])?;
    run(&["qemu-io", "-f", "qcow2", "-c", "write -P 0x5a 0 64M", &path])?;
    api.upload_image("bench-1gib", &file, "qcow2").await
}

/// The figures as a table.
pub fn table(series: &[Series]) -> String {
    let mut t = String::from(
        "block storage: sequential samples through the public APIs\n\
         figure                                               n     p50       max     goal\n",
    );
    for s in series {
        match (&s.error, s.samples.is_empty()) {
            (Some(e), true) => {
                t += &format!("{:<52} -     not measured: {e}\n", s.name);
            }
            _ => {
                let ms = |d: Option<Duration>| {
                    d.map(|d| format!("{:.1} ms", d.as_secs_f64() * 1000.0))
                        .unwrap_or_default()
                };
                t += &format!(
                    "{:<52} {:<5} {:<9} {:<7} {}\n",
                    s.name,
                    s.samples.len(),
                    ms(s.percentile(0.5)),
                    ms(s.percentile(1.0)),
                    s.goal
                );
                if let Some(e) = &s.error {
                    t += &format!("  (stopped early: {e})\n");
                }
            }
        }
    }
    t
}
