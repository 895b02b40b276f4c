//! Packstack-style answer files: the key table ([`keys`]), the generator
//! ([`generate`]), the reader ([`parse`], [`read_file`]) and the typed
//! result ([`AnswerFile`]).
//!
//! The format is Packstack's (`[general]`, then `CONFIG_KEY=value`, `#`
//! comments) so the seed's edits carry over line for line. It is read by
//! hand rather than with an INI crate because the point of the reader is
//! its diagnostics: exact columns, full-width punctuation named, every
//! problem at once, which no INI crate reports.

pub mod database;
mod gen;
pub mod keys;
mod model;
mod read;
mod values;

pub use gen::{generate, GenOptions};
pub use model::{AnswerFile, HostRoles, Networking, Ports, Role};
pub use read::{parse, Loaded};
pub use values::{
    BridgeIface, BridgeMapping, Cidr, Host, HypervisorKind, NetworkType, VlanRange, MAX_VNI,
};

use std::path::{Path, PathBuf};

/// An answer file that could not be read at all.
#[derive(Debug, thiserror::Error)]
#[error("cannot read the answer file {path}")]
pub struct ReadError {
    /// The file.
    pub path: PathBuf,
    /// Why.
    #[source]
    pub source: std::io::Error,
}

/// Reads and checks the answer file at `path`.
pub fn read_file(path: &Path) -> Result<Loaded, ReadError> {
    let text = std::fs::read_to_string(path).map_err(|source| ReadError {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(parse(&text))
}
