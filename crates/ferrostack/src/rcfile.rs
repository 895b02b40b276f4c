//! `keystonerc_admin` and `clouds.yaml`: how the operator's shell and SDKs
//! find the cloud.
//!
//! Both are rewritten on every start (the auth URL follows the listener),
//! mode 0600 because they hold the admin password. The password itself is
//! never stored in plain text anywhere else: when the operator gives none
//! on a later start, it is read back from the existing rc file.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Single-quote a value for a POSIX shell.
fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// Double-quote a value for YAML.
fn yaml_quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// The rc file's text.
pub fn keystonerc(auth_url: &str, password: Option<&str>) -> String {
    let password_line = match password {
        Some(p) => format!("export OS_PASSWORD={}\n", shell_quote(p)),
        None => {
            "# OS_PASSWORD unknown: restart allinone with --admin-password to set and record it.\n"
                .to_string()
        }
    };
    format!(
        "unset OS_SERVICE_TOKEN\n\
         export OS_USERNAME=admin\n\
         {password_line}\
         export OS_REGION_NAME=RegionOne\n\
         export OS_AUTH_URL={auth_url}\n\
         export OS_PROJECT_NAME=admin\n\
         export OS_USER_DOMAIN_NAME=Default\n\
         export OS_PROJECT_DOMAIN_NAME=Default\n\
         export OS_IDENTITY_API_VERSION=3\n\
         export PS1='[\\u@\\h \\W(keystone_admin)]\\$ '\n"
    )
}

/// The clouds.yaml text, with one cloud named `ferrostack`.
pub fn clouds_yaml(auth_url: &str, password: Option<&str>) -> String {
    let password_line = match password {
        Some(p) => format!("        password: {}\n", yaml_quote(p)),
        None => String::new(),
    };
    format!(
        "clouds:\n  ferrostack:\n    auth:\n        auth_url: {auth_url}\n        username: admin\n{password_line}        project_name: admin\n        user_domain_name: Default\n        project_domain_name: Default\n    region_name: RegionOne\n    identity_api_version: 3\n"
    )
}

/// The password recorded in an existing rc file, if any.
pub fn read_password(rc_path: &Path) -> Option<String> {
    let text = fs::read_to_string(rc_path).ok()?;
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("export OS_PASSWORD="))?;
    let quoted = line.strip_prefix('\'')?.strip_suffix('\'')?;
    Some(quoted.replace(r"'\''", "'"))
}

/// Write `contents` to `path` with mode 0600, atomically.
pub fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    // `mode` only applies to a new file: a leftover temporary file keeps
    // its own, so it is set again before the secret goes in.
    f.set_permissions(fs::Permissions::from_mode(0o600))?;
    f.write_all(contents.as_bytes())?;
    f.sync_all()?;
    fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_round_trips_through_the_rc_file_even_with_quotes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keystonerc_admin");
        let pw = "it's a \"secret\" $HOME";
        write_private(&path, &keystonerc("http://h:5000/v3", Some(pw))).unwrap();
        assert_eq!(read_password(&path).as_deref(), Some(pw));
        let mode =
            std::os::unix::fs::PermissionsExt::mode(&fs::metadata(&path).unwrap().permissions());
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn the_rc_file_has_what_clients_need() {
        let rc = keystonerc("http://10.0.0.1:5000/v3", Some("pw"));
        for needed in [
            "export OS_USERNAME=admin",
            "export OS_AUTH_URL=http://10.0.0.1:5000/v3",
            "export OS_PROJECT_NAME=admin",
            "export OS_USER_DOMAIN_NAME=Default",
            "export OS_PROJECT_DOMAIN_NAME=Default",
            "export OS_IDENTITY_API_VERSION=3",
            "export OS_REGION_NAME=RegionOne",
            "keystone_admin",
        ] {
            assert!(rc.contains(needed), "missing {needed}");
        }
    }
}
