//! The generator: a complete, commented answer file, every key at its
//! default, so an operator edits values rather than inventing keys (the
//! seed's workflow: `--gen-answer-file`, then `vim answer.ini`).
//!
//! The admin password is generated fresh each time: a fixed default
//! password is the one every scanner tries first.

use super::keys::{DefaultValue, SECTIONS};
use rand::distributions::Alphanumeric;
use rand::Rng;
use std::fmt::Write;

/// What a generated file depends on.
#[derive(Debug, Clone)]
pub struct GenOptions {
    /// The address of the host it is generated on: the default for the
    /// controller, compute and network hosts.
    pub this_host: String,
    /// The admin password to write.
    pub admin_password: String,
}

impl GenOptions {
    /// Options for `this_host` with a new random 20-character password.
    pub fn new(this_host: impl Into<String>) -> Self {
        GenOptions {
            this_host: this_host.into(),
            admin_password: rand::thread_rng()
                .sample_iter(&Alphanumeric)
                .take(20)
                .map(char::from)
                .collect(),
        }
    }
}

/// The text of a new answer file.
pub fn generate(opts: &GenOptions) -> String {
    let mut out = String::from(
        "# ferrostack answer file.\n\
         #\n\
         # Written by `ferrostack gen-answer-file`. Edit the values, then run\n\
         # `ferrostack check --answer-file FILE` on every host before deploying.\n\
         # Key names are Packstack's where they mean the same thing. Lists are\n\
         # comma-separated; booleans are y or n. Type ASCII punctuation only:\n\
         # a full-width '，' or '：' is an error (comments may hold any text).\n\
         # This file holds the admin password: keep it private.\n\
         \n\
         [general]\n",
    );
    for (title, keys) in SECTIONS {
        let _ = write!(out, "\n# ---- {title} ----\n");
        for key in *keys {
            if !key.doc.is_empty() {
                out.push('\n');
                for line in key.doc.lines() {
                    let _ = writeln!(out, "# {line}");
                }
            }
            let value = match key.default {
                DefaultValue::Literal(v) => v,
                DefaultValue::ThisHost => &opts.this_host,
                DefaultValue::GeneratedPassword => &opts.admin_password,
            };
            let _ = writeln!(out, "{}={value}", key.name);
        }
    }
    out
}
