//! The identity service's password policy as `allinone` options: Keystone's
//! `[security_compliance]` section, one flag per option, all off by
//! default as in Keystone.

use ferrostack_identity::compliance::SecurityCompliance;

/// Keystone's `[security_compliance]`.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct SecurityComplianceArgs {
    /// Lock a user out after this many consecutive failed password logins
    /// (Keystone's lockout_failure_attempts; default: never).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    lockout_failure_attempts: Option<u32>,
    /// Seconds a lockout lasts (lockout_duration; default: until an
    /// administrator enables the user again).
    #[arg(long, requires = "lockout_failure_attempts", value_parser = clap::value_parser!(u64).range(1..))]
    lockout_duration: Option<u64>,
    /// A regular expression every new password must match (password_regex,
    /// matched from the start as Python's re.match; lookahead allowed).
    #[arg(long)]
    password_regex: Option<String>,
    /// What --password-regex requires, in words: the error a refused
    /// password gets (password_regex_description).
    #[arg(long, requires = "password_regex")]
    password_regex_description: Option<String>,
    /// How many passwords, the new one included, a self-service change
    /// must differ from (unique_last_password_count; 0: no history).
    #[arg(long, default_value_t = 0)]
    unique_last_password_count: u32,
    /// Days a self-chosen password must be kept before the user may change
    /// it again (minimum_password_age).
    #[arg(long, default_value_t = 0)]
    minimum_password_age: u32,
    /// Days a password stays valid (password_expires_days; default: for ever).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    password_expires_days: Option<u32>,
    /// A password set by an administrator (new user, reset) must be
    /// changed by its user before it logs in (change_password_upon_first_use).
    #[arg(long)]
    change_password_upon_first_use: bool,
}

impl SecurityComplianceArgs {
    /// The policy these flags describe; an invalid regex is an error.
    pub fn policy(&self) -> anyhow::Result<SecurityCompliance> {
        let password_regex = match &self.password_regex {
            Some(p) => Some(SecurityCompliance::compile_regex(p).map_err(|e| {
                anyhow::anyhow!("--password-regex is not a valid regular expression: {e}")
            })?),
            None => None,
        };
        Ok(SecurityCompliance {
            lockout_failure_attempts: self.lockout_failure_attempts,
            lockout_duration: self.lockout_duration,
            password_regex,
            password_regex_description: self.password_regex_description.clone(),
            unique_last_password_count: self.unique_last_password_count,
            minimum_password_age: self.minimum_password_age,
            password_expires_days: self.password_expires_days,
            change_password_upon_first_use: self.change_password_upon_first_use,
        })
    }
}
