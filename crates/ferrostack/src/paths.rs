//! Where things live on disk, and which host name goes into the catalog.

use std::net::{IpAddr, ToSocketAddrs};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// True when running as root (judged by the owner of `/proc/self`, which is
/// the process's effective user, so no `unsafe` call to `geteuid` is needed).
pub fn running_as_root() -> bool {
    std::fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false)
}

/// `/var/lib/ferrostack` as root, else `~/.local/share/ferrostack`.
pub fn default_data_dir() -> PathBuf {
    if running_as_root() {
        return PathBuf::from("/var/lib/ferrostack");
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
    home.join(".local/share/ferrostack")
}

/// The token key directory inside a data directory: where clouds kept
/// their token keys before they moved into the database (imported from
/// there on first start).
pub fn token_key_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("token-keys")
}

/// The master key sealing the keys in the database, by default: the file
/// every controller of a cloud must hold a copy of.
pub fn master_key_file(data_dir: &Path) -> PathBuf {
    data_dir.join("master.key")
}

/// The host name or address clients should use, when none was given:
/// the bind address if it is a specific one, else the address this
/// machine's host name resolves to (if it is not loopback), else 127.0.0.1.
pub fn default_public_host(bind: IpAddr) -> String {
    if !bind.is_unspecified() {
        return bind.to_string();
    }
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    if !hostname.is_empty() {
        if let Ok(addrs) = (hostname.as_str(), 0).to_socket_addrs() {
            for a in addrs {
                if a.is_ipv4() && !a.ip().is_loopback() {
                    return a.ip().to_string();
                }
            }
        }
    }
    "127.0.0.1".to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_specific_bind_address_is_the_public_host() {
        assert_eq!(
            default_public_host("127.0.0.1".parse().unwrap()),
            "127.0.0.1"
        );
    }

    #[test]
    fn key_dir_is_inside_the_data_dir() {
        assert_eq!(
            token_key_dir(Path::new("/d")),
            PathBuf::from("/d/token-keys")
        );
    }
}
