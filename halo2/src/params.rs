//! IPA parameters: `2^k` BN254 G1 generators hashed to the curve from the public string
//! `"Halo2-Parameters"` (halo2_proofs' `Params::new`; halo2curves' BN254 hash-to-curve is the
//! Shallue–van de Woestijne map). No secret exists anywhere: anyone re-derives the same points.
//! Deriving them costs seconds at the sizes a block needs, so they are kept in memory per process
//! and on disk per `k`.
//!
//! Cache file `ipa-bn254-k<k>.params`: `RSTMH2P1` (8 bytes), SHA-256 of the rest (32 bytes), then
//! halo2_proofs' own encoding (`k` u32 LE, the generators, their Lagrange form, `w`, `u`, compressed
//! points). A file that is short, for another `k`, or whose hash is wrong is logged and replaced by
//! a fresh derivation (never trusted: wrong generators would make every proof fail, not pass).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use halo2_proofs::poly::commitment::Params;
use halo2curves::bn256::G1Affine;
use sha2::{Digest, Sha256};

use crate::Halo2Error;

const MAGIC: &[u8; 8] = b"RSTMH2P1";

/// The cache file for `k` under `dir`.
pub fn cache_path(dir: &Path, k: u32) -> PathBuf {
    dir.join(format!("ipa-bn254-k{k}.params"))
}

fn memory() -> &'static Mutex<HashMap<u32, Arc<Params<G1Affine>>>> {
    static CACHE: OnceLock<Mutex<HashMap<u32, Arc<Params<G1Affine>>>>> = OnceLock::new();
    CACHE.get_or_init(Default::default)
}

/// The parameters for `k`: from this process's memory, else `dir`'s cache file, else derived
/// (and written to `dir` when given).
///
/// # Errors
/// [`Halo2Error::Io`] when the cache file cannot be written.
pub fn params(k: u32, dir: Option<&Path>) -> Result<Arc<Params<G1Affine>>, Halo2Error> {
    if let Some(p) = memory().lock().expect("params cache lock").get(&k) {
        return Ok(p.clone());
    }
    let p = Arc::new(match dir {
        Some(dir) => load_or_derive(k, dir)?,
        None => derive(k),
    });
    memory()
        .lock()
        .expect("params cache lock")
        .insert(k, p.clone());
    Ok(p)
}

/// Derives the parameters for `k` from the public string.
pub fn derive(k: u32) -> Params<G1Affine> {
    Params::new(k)
}

/// Reads the cache file for `k`; `None` (logged) when it is missing or not valid.
pub fn load(k: u32, dir: &Path) -> Option<Params<G1Affine>> {
    let path = cache_path(dir, k);
    let bytes = std::fs::read(&path).ok()?;
    let bad = |why: &str| {
        tracing::warn!(path = %path.display(), "halo2 parameter cache {why}: deriving again");
        None
    };
    if bytes.len() < 40 || &bytes[..8] != MAGIC {
        return bad("has no header");
    }
    if Sha256::digest(&bytes[40..])[..] != bytes[8..40] {
        return bad("does not match its hash");
    }
    if bytes.get(40..44) != Some(&k.to_le_bytes()[..]) {
        return bad("is for another k");
    }
    match Params::read(&mut &bytes[40..]) {
        Ok(p) => Some(p),
        Err(_) => bad("does not decode"),
    }
}

fn load_or_derive(k: u32, dir: &Path) -> Result<Params<G1Affine>, Halo2Error> {
    if let Some(p) = load(k, dir) {
        return Ok(p);
    }
    let p = derive(k);
    let path = cache_path(dir, k);
    let io = |source| Halo2Error::Io {
        path: path.clone(),
        source,
    };
    let mut body = Vec::new();
    p.write(&mut body).map_err(io)?;
    let mut file = MAGIC.to_vec();
    file.extend_from_slice(&Sha256::digest(&body));
    file.extend_from_slice(&body);
    std::fs::create_dir_all(dir).map_err(io)?;
    let tmp = path.with_extension("params.tmp");
    std::fs::write(&tmp, &file).map_err(io)?;
    std::fs::rename(&tmp, &path).map_err(io)?;
    tracing::info!(path = %path.display(), k, "derived halo2 IPA parameters");
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(p: &Params<G1Affine>) -> Vec<u8> {
        let mut out = Vec::new();
        p.write(&mut out).expect("write");
        out
    }

    #[test]
    fn parameters_are_deterministic_cached_and_a_bad_cache_is_replaced() {
        let dir = tempfile::tempdir().expect("tempdir");
        let fresh = bytes(&derive(5));
        assert_eq!(fresh, bytes(&derive(5)), "derivation is deterministic");
        assert_ne!(fresh, bytes(&derive(4)));
        let first = load_or_derive(5, dir.path()).expect("derive and write");
        assert_eq!(bytes(&first), fresh);
        let path = cache_path(dir.path(), 5);
        let file = std::fs::read(&path).expect("cache written");
        assert_eq!(bytes(&load(5, dir.path()).expect("loads")), fresh);
        // A flipped bit, a truncation, another k's file under this name: refused, then replaced.
        let mut flipped = file.clone();
        flipped[100] ^= 1;
        let k4 = {
            let other = tempfile::tempdir().expect("tempdir");
            load_or_derive(4, other.path()).expect("k4");
            std::fs::read(cache_path(other.path(), 4)).expect("read")
        };
        for bad in [
            flipped,
            file[..file.len() - 1].to_vec(),
            k4,
            b"junk".to_vec(),
        ] {
            std::fs::write(&path, &bad).expect("write");
            assert!(load(5, dir.path()).is_none());
            assert_eq!(bytes(&load_or_derive(5, dir.path()).expect("again")), fresh);
            assert_eq!(std::fs::read(&path).expect("read"), file, "cache rewritten");
        }
    }
}
