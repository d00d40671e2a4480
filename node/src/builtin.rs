//! Defaults compiled into the binary, so that an installed `rustorium` runs from any directory:
//! the devnet genesis, the transaction-scoring model and the admission policy. Where a file is
//! needed (ONNX Runtime loads models from files), the bytes are written into the data directory
//! (`<data_dir>/builtin/`) when absent or different.

use std::path::{Path, PathBuf};

/// `config/genesis.toml`: the devnet genesis (public devnet keys; never a real network's).
pub const GENESIS: &str = include_str!("../../config/genesis.toml");
/// `config/policy.glu`: the shipped admission policy.
pub const POLICY: &str = include_str!("../../config/policy.glu");
/// `config/models/scoring.onnx`: the shipped transaction-scoring model.
pub const SCORING_MODEL: &[u8] = include_bytes!("../../config/models/scoring.onnx");

/// Names of the built-in files as they are written.
pub const GENESIS_FILE: &str = "genesis.toml";
/// See [`GENESIS_FILE`].
pub const POLICY_FILE: &str = "policy.glu";
/// See [`GENESIS_FILE`].
pub const SCORING_MODEL_FILE: &str = "scoring.onnx";

/// Writes `bytes` to `dir/name` unless the file already holds exactly them (written beside and
/// renamed: a crash never leaves half a file); returns the path.
pub fn materialize(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<PathBuf> {
    let path = dir.join(name);
    if std::fs::read(&path).ok().as_deref() != Some(bytes) {
        std::fs::create_dir_all(dir)?;
        let tmp = dir.join(format!(".{name}.tmp"));
        std::fs::write(&tmp, bytes)?;
        std::fs::rename(&tmp, &path)?;
    }
    Ok(path)
}

/// The directory built-in files of a node with data directory `data_dir` go to.
pub fn dir(data_dir: &Path) -> PathBuf {
    data_dir.join("builtin")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_ins_are_the_repository_files_and_materialize_once() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        assert_eq!(
            GENESIS,
            std::fs::read_to_string(root.join("../config/genesis.toml")).expect("genesis")
        );
        assert!(crate::state::Genesis::parse(GENESIS, "built-in").is_ok());
        let d = tempfile::tempdir().expect("tempdir");
        let p = materialize(d.path(), SCORING_MODEL_FILE, SCORING_MODEL).expect("write");
        assert_eq!(std::fs::read(&p).expect("read"), SCORING_MODEL);
        // A changed file is put back; an identical one is left alone.
        std::fs::write(&p, b"stale").expect("write");
        materialize(d.path(), SCORING_MODEL_FILE, SCORING_MODEL).expect("rewrite");
        assert_eq!(std::fs::read(&p).expect("read"), SCORING_MODEL);
        let before = std::fs::metadata(&p)
            .expect("stat")
            .modified()
            .expect("mtime");
        std::thread::sleep(std::time::Duration::from_millis(20));
        materialize(d.path(), SCORING_MODEL_FILE, SCORING_MODEL).expect("again");
        assert_eq!(
            std::fs::metadata(&p)
                .expect("stat")
                .modified()
                .expect("mtime"),
            before
        );
    }
}
