//! The KVM probe: is KVM really usable here, or only present? And when
//! the host booted, for the hypervisor's uptime.
//!
//! See the module doc of [`super`] for why opening `/dev/kvm` is not
//! enough and what the probe checks.

use super::*;

/// Starts a disk-less VM under KVM and checks it really executes: QMP says
/// `running` with KVM enabled, and SeaBIOS gets to the end of its boot
/// (`No bootable device` on the debug console) within the time limit.
pub(super) async fn probe_kvm(config: &QemuConfig) -> Accelerator {
    if !Path::new("/dev/kvm").exists() {
        tracing::info!("no /dev/kvm; using TCG");
        return Accelerator::Tcg;
    }
    let dir = config
        .state_dir
        .join(format!(".kvm-probe-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    if let Err(e) = std::fs::create_dir_all(&dir) {
        tracing::warn!(error = %e, "cannot create the KVM probe directory; using TCG");
        return Accelerator::Tcg;
    }
    let started = Instant::now();
    let ok = probe_kvm_in(config, &dir).await;
    let _ = std::fs::remove_dir_all(&dir);
    let accel = if ok {
        Accelerator::Kvm
    } else {
        Accelerator::Tcg
    };
    tracing::info!(?accel, elapsed = ?started.elapsed(), "KVM probe finished");
    accel
}

async fn probe_kvm_in(config: &QemuConfig, dir: &Path) -> bool {
    let qmp = dir.join("qmp.sock");
    let debugcon = dir.join("debugcon.log");
    let mut child = match Command::new(&config.qemu)
        .args([
            "-accel",
            "kvm",
            "-cpu",
            "host",
            "-machine",
            "pc",
            "-nodefaults",
            "-no-user-config",
            "-display",
            "none",
            "-m",
            "32",
            "-chardev",
        ])
        .arg(format!("file,id=dbg,path={}", path_str(&debugcon)))
        .args(["-device", "isa-debugcon,iobase=0x402,chardev=dbg", "-qmp"])
        .arg(format!("unix:{},server=on,wait=off", path_str(&qmp)))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(error = %e, "cannot start the KVM probe; using TCG");
            return false;
        }
    };
    let deadline = Instant::now() + config.kvm_probe_timeout;
    let mut qmp_ok = false;
    let mut executed = false;
    while Instant::now() < deadline && !(qmp_ok && executed) {
        if let Ok(Some(status)) = child.try_wait() {
            tracing::info!(%status, "KVM probe VM exited; using TCG");
            return false;
        }
        if !qmp_ok {
            if let Ok(mut c) = QmpClient::connect(&qmp, Duration::from_secs(1)).await {
                let running =
                    matches!(c.query_status().await, Ok(s) if s.state == RunState::Running);
                let kvm = c
                    .execute("query-kvm", None)
                    .await
                    .map(|v| v["enabled"] == true && v["present"] == true)
                    .unwrap_or(false);
                qmp_ok = running && kvm;
            }
        }
        if !executed {
            executed = std::fs::read(&debugcon)
                .map(|b| b.windows(18).any(|w| w == b"No bootable device"))
                .unwrap_or(false);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Our own child, stopped through its handle (by pid).
    let _ = child.kill().await;
    if !(qmp_ok && executed) {
        tracing::info!(qmp_ok, executed, "KVM probe VM did not run; using TCG");
    }
    qmp_ok && executed
}

/// When this host booted (µs since the epoch): now less the seconds
/// since boot that `/proc/uptime` gives first. None where it cannot be read.
pub(super) fn booted_at() -> Option<i64> {
    let text = std::fs::read_to_string("/proc/uptime").ok()?;
    let since_boot = parse_proc_uptime(&text)?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_micros();
    i64::try_from(now).ok().map(|n| n - since_boot)
}

/// The first field of `/proc/uptime` ("12345.67 54321.00"), in µs.
fn parse_proc_uptime(text: &str) -> Option<i64> {
    let secs: f64 = text.split_whitespace().next()?.parse().ok()?;
    (secs.is_finite() && secs >= 0.0).then_some((secs * 1_000_000.0) as i64)
}

#[cfg(test)]
mod uptime_tests {
    use super::*;

    #[test]
    fn proc_uptime_gives_the_seconds_since_boot() {
        assert_eq!(
            parse_proc_uptime("350735.47 234388.90\n"),
            Some(350_735_470_000)
        );
        assert_eq!(parse_proc_uptime("12 3"), Some(12_000_000));
        for bad in ["", "x 1", "-1 2", "NaN 1"] {
            assert_eq!(parse_proc_uptime(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn this_host_booted_in_the_past() {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_micros() as i64;
        let booted = booted_at().expect("/proc/uptime is readable on Linux");
        assert!(booted > 0 && booted <= now);
    }
}
