//! `rustorium debug …`: tools used by tests (hidden from help).

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Result;
use clap::Subcommand;
use rustorium::accel::CpuHasher;
use rustorium::state::{StateStore, StoreOptions};
use rustorium_circuits::field::to_decimal;
use rustorium_testkit::{workload_batch, workload_keys};

use super::Outcome;

#[derive(Subcommand)]
pub(crate) enum DebugCommand {
    /// Commit workload batches forever (or `--batches`), resuming after the latest committed
    /// version; prints `committed <version> <root>` after each commit. Used by the crash test.
    CommitLoop {
        /// Store file (created when missing).
        #[arg(long)]
        db: PathBuf,
        /// Tree depth for a new store.
        #[arg(long, default_value_t = 8)]
        depth: usize,
        /// Workload seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Leaves per batch.
        #[arg(long, default_value_t = 64)]
        batch_size: usize,
        /// Stop after this version.
        #[arg(long)]
        until: Option<u64>,
        /// Versions kept (0 = all).
        #[arg(long, default_value_t = 0)]
        keep_versions: u64,
    },
}

pub(crate) fn run(cmd: DebugCommand) -> Result<Outcome> {
    match cmd {
        DebugCommand::CommitLoop {
            db,
            depth,
            seed,
            batch_size,
            until,
            keep_versions,
        } => {
            let hasher = Arc::new(CpuHasher::new());
            let options = StoreOptions { keep_versions };
            let store = if db.exists() {
                StateStore::open(&db, hasher, options)?
            } else {
                StateStore::create(&db, depth, 0, hasher, options)?
            };
            let keys = workload_keys(1usize << store.depth().min(10));
            let mut version = store.reader()?.latest_version()?.map_or(0, |v| v + 1);
            let mut stdout = std::io::stdout();
            while until.is_none_or(|u| version <= u) {
                let batch = workload_batch(seed, version, batch_size, &keys);
                let root = store.commit(version, &batch)?;
                writeln!(stdout, "committed {version} {}", to_decimal(&root))?;
                stdout.flush()?;
                version += 1;
            }
        }
    }
    Ok(Outcome::Ok)
}
