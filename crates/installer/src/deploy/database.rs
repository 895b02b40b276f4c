//! Deploy's database step: PostgreSQL on CONFIG_DATABASE_HOST, made
//! ready for the controllers before the first of them starts (a
//! controller that cannot open its database exits).
//!
//! The host must be one of the cloud's own hosts (deploy reaches only
//! those); the script is [`crate::answer::database::setup_script`],
//! the password goes on its standard input.

use super::engine::{DeployError, Target};
use crate::answer::database::setup_script;
use crate::answer::AnswerFile;

/// Installs and configures PostgreSQL when the answer file asks for it:
/// None when it does not, else (host, what changed or `unchanged`).
pub(super) fn converge(
    answers: &AnswerFile,
    targets: &[Target<'_>],
) -> Result<Option<(String, String)>, DeployError> {
    let (Some(db_host), Some(url)) = (&answers.database.host, answers.database.effective_url())
    else {
        return Ok(None);
    };
    let host = db_host.to_string();
    let fail = |message: String, fix: Option<String>| DeployError {
        host: Some(host.clone()),
        step: "database".into(),
        message,
        fix,
        log: None,
    };
    let Some(target) = targets.iter().find(|t| &t.plan.host == db_host) else {
        return Err(fail(
            "CONFIG_DATABASE_HOST is none of the cloud's hosts".into(),
            Some("name a controller, compute or network host, or run PostgreSQL yourself and set CONFIG_DATABASE_URL only".into()),
        ));
    };
    let script = setup_script(&url, &answers.controllers()).map_err(|e| fail(e, None))?;
    let out = target
        .remote
        .run_script(
            "PostgreSQL setup",
            &script,
            answers.database.password.as_bytes(),
        )
        .map_err(|e| fail(e.message, e.fix))?;
    Ok(Some((host, out.trim().to_string())))
}
