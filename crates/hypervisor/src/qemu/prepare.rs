//! What exists before QEMU starts: the checked spec, the qcow2 overlay on
//! the base image, the config drive, and QEMU's command line.

use super::*;

impl QemuHypervisor {
    /// QEMU's command line for `spec` under `accel`.
    pub(super) fn qemu_argv(
        &self,
        spec: &InstanceSpec,
        paths: &Paths,
        accel: Accelerator,
    ) -> Vec<String> {
        let mut a: Vec<String> = vec![
            s(&self.config.qemu),
            "-name".into(),
            format!("guest={}", opt_escape(&spec.name)),
            "-uuid".into(),
            spec.id.to_string(),
            "-machine".into(),
            opt_escape(&self.config.machine),
            "-accel".into(),
            accel.as_str().into(),
        ];
        if accel == Accelerator::Kvm {
            a.extend(["-cpu".into(), "host".into()]);
        }
        a.extend([
            "-smp".into(),
            spec.vcpus.to_string(),
            "-m".into(),
            spec.memory_mib.to_string(),
            "-nodefaults".into(),
            "-no-user-config".into(),
            "-display".into(),
            "none".into(),
            "-chardev".into(),
            format!(
                "file,id=serial0,path={},append=on",
                path_str(&paths.console)
            ),
            "-serial".into(),
            "chardev:serial0".into(),
        ]);
        // The root disk first (bootindex 0): the overlay, or the boot
        // volume; then the data volumes. Each a chain with its throttle
        // group, ids derived as a hotplug derives them (volumes.rs).
        if crate::volumes::boot_volume(spec).is_none() {
            a.extend(volumes::root_chain(&paths.disk, &spec.root_limits).argv());
        }
        let mut disks: Vec<&crate::VolumeSpec> = spec.volumes.iter().collect();
        disks.sort_by_key(|v| v.boot_index.is_none());
        for v in disks {
            // validate() refused what has no chain.
            if let Ok(chain) = volumes::volume_chain(v, &paths.psk) {
                a.extend(chain.argv());
            }
        }
        if spec.config_drive.is_some() {
            a.extend([
                "-drive".into(),
                format!(
                    "file={},format=raw,if=virtio,readonly=on",
                    path_str(&paths.config_drive)
                ),
            ]);
        }
        if spec.nics.is_empty() {
            a.extend(["-nic".into(), "none".into()]);
        }
        // Ids derived from the tap, the same a hotplug uses, so any NIC
        // can be unplugged later whether it came at start or by hotplug.
        for nic in &spec.nics {
            let netdev = crate::nics::netdev_id(&nic.tap);
            a.extend([
                "-netdev".into(),
                format!(
                    "tap,id={netdev},ifname={},script=no,downscript=no",
                    opt_escape(&nic.tap)
                ),
                "-device".into(),
                format!(
                    "virtio-net-pci,id={},netdev={netdev},mac={}",
                    crate::nics::device_id(&nic.tap),
                    nic.mac
                ),
            ]);
        }
        a.extend([
            "-qmp".into(),
            format!("unix:{},server=on,wait=off", path_str(&paths.qmp)),
            "-pidfile".into(),
            s(&paths.pid),
            "-daemonize".into(),
        ]);
        a
    }

    /// Writes the key files of the spec's export disks (before QEMU
    /// starts: its `tls-creds-psk` objects read them).
    pub(super) fn write_volume_keys(&self, spec: &InstanceSpec, paths: &Paths) -> Result<()> {
        for v in &spec.volumes {
            if let Some((_, psk)) = volumes::volume_chain(v, &paths.psk)?.tls {
                psk.write()?;
            }
        }
        Ok(())
    }

    /// Validates what QEMU will be given.
    pub(super) fn validate(&self, spec: &InstanceSpec) -> Result<()> {
        let bad = |m: String| Err(HypervisorError::InvalidSpec(m));
        if spec.vcpus == 0 || spec.memory_mib == 0 {
            return bad("vcpus and memory_mib must be positive".into());
        }
        if spec.id.is_nil() {
            return bad("the nil uuid is not an instance id".into());
        }
        let boots_from_volume = crate::volumes::boot_volume(spec).is_some();
        if !boots_from_volume && !spec.base_image.is_absolute() {
            return bad(format!(
                "base image {} is not an absolute path",
                spec.base_image.display()
            ));
        }
        for nic in &spec.nics {
            crate::nics::validate(nic)?;
        }
        crate::volumes::validate_set(spec)?;
        for v in &spec.volumes {
            volumes::volume_chain(v, Path::new("/"))?;
        }
        Ok(())
    }

    /// Creates the qcow2 overlay, refusing a root disk smaller than the
    /// base (qemu-img would silently shrink the guest's disk).
    pub(super) async fn create_overlay(&self, spec: &InstanceSpec, paths: &Paths) -> Result<()> {
        let id = spec.id;
        let deadline = self.config.deadlines.spawn;
        let info = run(
            vec![
                s(&self.config.qemu_img),
                "info".into(),
                "-f".into(),
                spec.base_format.as_str().into(),
                "--output=json".into(),
                s(&spec.base_image),
            ],
            id,
            Operation::Spawn,
            deadline,
            &[],
        )
        .await?;
        let info: Value = serde_json::from_slice(&info.stdout).unwrap_or_default();
        let base_size = info
            .get("virtual-size")
            .and_then(|v| v.as_u64())
            .unwrap_or(0);
        let mut argv = vec![
            s(&self.config.qemu_img),
            "create".into(),
            "-q".into(),
            "-f".into(),
            "qcow2".into(),
            "-b".into(),
            s(&spec.base_image),
            "-F".into(),
            spec.base_format.as_str().into(),
            s(&paths.disk),
        ];
        if spec.root_disk_gib > 0 {
            let want = spec.root_disk_gib.saturating_mul(1 << 30);
            if want < base_size {
                return Err(HypervisorError::InvalidSpec(format!(
                    "root disk of {} GiB is smaller than the image ({base_size} bytes)",
                    spec.root_disk_gib
                )));
            }
            argv.push(format!("{}G", spec.root_disk_gib));
        }
        run(argv, id, Operation::Spawn, deadline, &[]).await?;
        Ok(())
    }

    /// Builds the vfat config drive: files in `openstack/latest/` of a
    /// scratch tree, `mkfs.vfat -n config-2`, `mcopy -s`.
    pub(super) async fn create_config_drive(
        &self,
        id: Uuid,
        cd: &ConfigDrive,
        paths: &Paths,
    ) -> Result<()> {
        let tree = paths.dir.join("config-drive.d");
        let latest = tree.join("openstack").join("latest");
        std::fs::create_dir_all(&latest).map_err(io_err(&latest))?;
        let mut files: Vec<(&str, &[u8])> = vec![("meta_data.json", cd.meta_data_json.as_bytes())];
        if let Some(u) = &cd.user_data {
            files.push(("user_data", u));
        }
        if let Some(n) = &cd.network_data_json {
            files.push(("network_data.json", n.as_bytes()));
        }
        let mut total = 0u64;
        for (name, content) in files {
            let p = latest.join(name);
            std::fs::write(&p, content).map_err(io_err(&p))?;
            total += content.len() as u64;
        }
        // FAT needs room for its tables and cluster slack; 1 MiB minimum.
        let kib = (total * 2 / 1024 + 1024).max(1024);
        let _ = std::fs::remove_file(&paths.config_drive);
        let deadline = self.config.deadlines.spawn;
        run(
            vec![
                s(&self.config.mkfs_vfat),
                "-n".into(),
                "config-2".into(),
                "-C".into(),
                s(&paths.config_drive),
                kib.to_string(),
            ],
            id,
            Operation::Spawn,
            deadline,
            &[],
        )
        .await?;
        run(
            vec![
                s(&self.config.mcopy),
                "-s".into(),
                "-i".into(),
                s(&paths.config_drive),
                s(tree.join("openstack")),
                "::/".into(),
            ],
            id,
            Operation::Spawn,
            deadline,
            &[("MTOOLS_SKIP_CHECK", "1")],
        )
        .await?;
        std::fs::remove_dir_all(&tree).map_err(io_err(&tree))?;
        Ok(())
    }
}
