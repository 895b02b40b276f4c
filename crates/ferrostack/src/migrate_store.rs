//! `ferrostack admin migrate-store`: move a cloud's state from its SQLite
//! file to another database (PostgreSQL, to share it between controllers),
//! with nothing lost. See [`ferrostack_store::copy`] for how.
//!
//! The controller must be stopped: the copy holds the SQLite file's write
//! lock for its duration, so a running controller's writes wait (and a
//! write it makes after the copy stays behind in the file). Afterwards,
//! start the controller with `--database` naming the target.

use crate::paths;
use anyhow::Context;
use ferrostack_store::{copy, Location};
use std::path::PathBuf;

/// Options of `ferrostack admin migrate-store`.
#[derive(clap::Args)]
pub struct MigrateStoreArgs {
    /// Data directory whose ferrostack.db is copied (default:
    /// /var/lib/ferrostack as root, else ~/.local/share/ferrostack).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// The SQLite file to copy, if not DATA/ferrostack.db.
    #[arg(long)]
    from: Option<PathBuf>,
    /// The database to copy into (`postgresql://USER:PASSWORD@HOST:PORT/DB`);
    /// it must not hold a cloud yet.
    #[arg(long, env = "FERROSTACK_DATABASE", hide_env_values = true, value_parser = Location::parse)]
    to: Location,
}

/// Copy, then print what was copied.
pub fn run(args: MigrateStoreArgs) -> anyhow::Result<()> {
    let from_path = args.from.unwrap_or_else(|| {
        args.data_dir
            .unwrap_or_else(paths::default_data_dir)
            .join("ferrostack.db")
    });
    anyhow::ensure!(
        from_path.is_file(),
        "{} does not exist: name the data directory (--data-dir) or the file (--from)",
        from_path.display()
    );
    let from = Location::Sqlite(from_path);
    anyhow::ensure!(from != args.to, "the source and the target are the same");
    let source = from.open().with_context(|| format!("cannot open {from}"))?;
    let target = args
        .to
        .open()
        .with_context(|| format!("cannot open {}", args.to))?;
    let report = copy::copy_all(&source, &target).with_context(|| {
        format!(
            "copying {from} to {} failed; the target is unchanged",
            args.to
        )
    })?;
    let total: u64 = report.rows.values().sum();
    for (table, rows) in &report.rows {
        if *rows > 0 {
            println!("{table:32} {rows:>8}");
        }
    }
    println!(
        "Copied {total} rows in {} tables from {from} to {}.",
        report.rows.len(),
        args.to
    );
    println!("Start the controller with --database naming the target; keep {from} until it runs.");
    Ok(())
}
