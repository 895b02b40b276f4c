//! The deploy run over every host, in the seed's order: reach and check
//! every host, the database when deploy installs it, the first
//! controller, the other controllers with the first one's identity, the
//! agents with its join file, then wait until the cloud lists every
//! compute host as up. Each step on a host is [`super::engine`]'s.
//!
//! The order is what makes a re-run safe: nothing is started before
//! every host passed its check, no other controller starts before the
//! first made the schema and the shared files, and no agent starts
//! before some controller answers.

use super::api::ControllerApi;
use super::engine::{DeployError, DeployInput, DeploySummary, Run, Target};
use super::plan::{url_host, FileSpec, JOIN_FILE, SHARED_CONTROLLER_FILES};
use super::remote::HostInfo;
use crate::answer::Role;
use std::time::{Duration, Instant};

/// Runs the deployment over `targets` (the controller first, as
/// [`super::plan::plan`] orders them), printing progress to `out`.
pub fn deploy(
    input: &DeployInput<'_>,
    targets: &[Target<'_>],
    api: &dyn ControllerApi,
    out: &mut dyn std::io::Write,
) -> Result<DeploySummary, DeployError> {
    let mut run = Run {
        input,
        out,
        summary: DeploySummary::default(),
    };
    let first = targets
        .iter()
        .position(|t| t.plan.is_controller())
        .ok_or_else(|| DeployError {
            host: None,
            step: "plan".into(),
            message: "the answer file names no controller".into(),
            fix: Some("set CONFIG_CONTROLLER_HOST".into()),
            log: None,
        })?;
    let (infos, binary_changed) = run.preflight(targets)?;
    match super::database::converge(input.answers, targets)? {
        Some((host, out)) if out == "unchanged" => run.say(&host, "database", "ok (PostgreSQL)"),
        Some((host, out)) => run.changed(&host, "database", format!("PostgreSQL: {out}")),
        None => {}
    }
    let hosts = Hosts {
        targets,
        infos: &infos,
        binary_changed: &binary_changed,
        dhcp_name: dhcp_host_name(input, targets, &infos),
    };
    let (join, shared) = first_controller(&mut run, &hosts, first, api)?;
    other_controllers(&mut run, &hosts, first, &shared, api)?;
    agents(&mut run, &hosts, &join)?;
    wait_joined(&mut run, &hosts, api)?;
    Ok(run.summary)
}

/// What the phases share: the hosts, what connecting learned of each,
/// whether its binary changed, and the DHCP host's own name.
struct Hosts<'t, 'r> {
    targets: &'t [Target<'r>],
    infos: &'t [HostInfo],
    binary_changed: &'t [bool],
    /// (the DHCP host as the answer file names it, its host name).
    dhcp_name: Option<(String, String)>,
}

/// The controller binds DHCP ports to the name the DHCP host's agent
/// registers under: that host's own host name, learned on connecting.
fn dhcp_host_name(
    input: &DeployInput<'_>,
    targets: &[Target<'_>],
    infos: &[HostInfo],
) -> Option<(String, String)> {
    input.answers.dhcp_host().and_then(|d| {
        targets
            .iter()
            .position(|t| &t.plan.host == d)
            .map(|i| (d.to_string(), infos[i].hostname.clone()))
    })
}

/// The first controller: its files and service, then its join file, the
/// admin's rc file and the files every other controller must hold the
/// same (plan.rs, `SHARED_CONTROLLER_FILES`), as it made them.
fn first_controller(
    run: &mut Run<'_, '_>,
    hosts: &Hosts<'_, '_>,
    index: usize,
    api: &dyn ControllerApi,
) -> Result<(Vec<u8>, Vec<FileSpec>), DeployError> {
    let controller = &hosts.targets[index];
    let chost = controller.plan.host.to_string();
    let mut inputs_changed = hosts.binary_changed[index];
    for f in &controller.plan.files {
        inputs_changed |= run.converge_file(&chost, controller.remote, f)?;
    }
    if let Some(service) = &controller.plan.service {
        let service = match &hosts.dhcp_name {
            Some((host, name)) => {
                run.say(
                    &chost,
                    "network",
                    &format!("DHCP is served by {host} ({name})"),
                );
                super::plan::with_dhcp_host(service, name)
            }
            None => service.clone(),
        };
        run.converge_service(controller, &hosts.infos[index], &service, inputs_changed)?;
    }
    run.wait_controller(controller, &hosts.infos[index], api, true)?;
    let data_dir = run.input.answers.data_dir.display().to_string();
    let join = controller
        .remote
        .read(&format!("{data_dir}/join-token"))
        .map_err(|e| Run::fail(&chost, "join token", e))?
        .ok_or_else(|| DeployError {
            host: Some(chost.clone()),
            step: "join token".into(),
            message: format!("the controller has no {data_dir}/join-token"),
            fix: Some("the controller writes it on its first start: see its log".into()),
            log: None,
        })?;
    run.summary.keystonerc = controller
        .remote
        .read(&format!("{data_dir}/keystonerc_admin"))
        .map_err(|e| Run::fail(&chost, "keystonerc", e))?;
    let mut shared = Vec::new();
    for (rel, mode) in SHARED_CONTROLLER_FILES {
        let path = format!("{data_dir}/{rel}");
        if let Some(content) = controller
            .remote
            .read(&path)
            .map_err(|e| Run::fail(&chost, "controller identity", e))?
        {
            shared.push(FileSpec {
                path,
                content,
                mode: *mode,
                what: "controller identity",
            });
        }
    }
    Ok((join, shared))
}

/// The other controllers, with the first one's identity, each ready (it
/// reached the database) before the next, and all before the agents.
fn other_controllers(
    run: &mut Run<'_, '_>,
    hosts: &Hosts<'_, '_>,
    first: usize,
    shared: &[FileSpec],
    api: &dyn ControllerApi,
) -> Result<(), DeployError> {
    for (i, t) in hosts.targets.iter().enumerate() {
        if i == first || !t.plan.is_controller() {
            continue;
        }
        let host = t.plan.host.to_string();
        let mut changed = hosts.binary_changed[i];
        for f in t.plan.files.iter().chain(shared) {
            changed |= run.converge_file(&host, t.remote, f)?;
        }
        if let Some(service) = &t.plan.service {
            let service = match &hosts.dhcp_name {
                Some((_, name)) => super::plan::with_dhcp_host(service, name),
                None => service.clone(),
            };
            run.converge_service(t, &hosts.infos[i], &service, changed)?;
            run.wait_controller(t, &hosts.infos[i], api, false)?;
        }
    }
    Ok(())
}

/// Every host that is not a controller: its files, the join file, its
/// agent.
fn agents(run: &mut Run<'_, '_>, hosts: &Hosts<'_, '_>, join: &[u8]) -> Result<(), DeployError> {
    for (i, t) in hosts.targets.iter().enumerate() {
        if t.plan.is_controller() {
            continue;
        }
        let host = t.plan.host.to_string();
        let Some(service) = &t.plan.service else {
            run.say(
                &host,
                "service",
                "nothing to run yet: an agent for a network-only host is not built (DHCP is served by the first network host that is also a compute host)",
            );
            continue;
        };
        let mut changed = hosts.binary_changed[i];
        for f in &t.plan.files {
            changed |= run.converge_file(&host, t.remote, f)?;
        }
        let join_file = FileSpec {
            path: JOIN_FILE.into(),
            content: join.to_vec(),
            mode: 0o600,
            what: "join file",
        };
        changed |= run.converge_file(&host, t.remote, &join_file)?;
        run.converge_service(t, &hosts.infos[i], service, changed)?;
    }
    Ok(())
}

/// Waits until the cloud's own `os-services` lists every compute host as
/// up; stops at the first one missing after the ready timeout, with its
/// agent's last log lines.
fn wait_joined(
    run: &mut Run<'_, '_>,
    hosts: &Hosts<'_, '_>,
    api: &dyn ControllerApi,
) -> Result<(), DeployError> {
    let input = run.input;
    let expected: Vec<(usize, String)> = hosts
        .targets
        .iter()
        .enumerate()
        .filter(|(_, t)| t.plan.roles.contains(&Role::Compute))
        .map(|(i, _)| (i, hosts.infos[i].hostname.clone()))
        .collect();
    let started = Instant::now();
    loop {
        let listed = api.compute_services();
        let missing: Vec<&(usize, String)> = expected
            .iter()
            .filter(|(_, name)| {
                !listed
                    .as_ref()
                    .is_ok_and(|l| l.iter().any(|s| &s.host == name && s.state == "up"))
            })
            .collect();
        if missing.is_empty() {
            break;
        }
        if started.elapsed() > input.ready_timeout {
            let (i, name) = missing[0];
            let t = &hosts.targets[*i];
            let why = match &listed {
                Ok(l) => format!(
                    "the controller lists {} compute host(s) ({}), not {name}",
                    l.len(),
                    l.iter()
                        .map(|s| format!("{} {}", s.host, s.state))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                Err(e) => e.clone(),
            };
            return Err(DeployError {
                host: Some(t.plan.host.to_string()),
                step: "join".into(),
                message: format!("{name} did not join within {} s: {why}", input.ready_timeout.as_secs()),
                fix: Some(format!(
                    "the agent must reach https://{}:{} and the controller must reach the agent's port {}",
                    url_host(&input.answers.controller),
                    input.answers.ports.host_api,
                    input.answers.ports.agent
                )),
                log: t.plan.service.as_ref().map(|s| t.remote.log_tail(s, hosts.infos[*i].systemd, 20)),
            });
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    for (i, name) in &expected {
        run.say(
            &hosts.targets[*i].plan.host.to_string(),
            "joined",
            &format!("compute host {name} is up"),
        );
    }
    run.summary.compute_hosts = expected.into_iter().map(|(_, n)| n).collect();
    Ok(())
}
