//! Proving and verifying keys per circuit shape, on disk with a content hash.
//!
//! File layout (both keys):
//! ```text
//! magic     8 bytes  "RSTMPK\0\x01" (proving) | "RSTMVK\0\x01" (verifying)
//! depth     u32 LE
//! capacity  u32 LE
//! flags     u32 LE   bit 0: insecure devnet key (derived from a public seed)
//! seed      u64 LE   the seed when bit 0 is set, else 0
//! body_len  u64 LE
//! body      arkworks CanonicalSerialize (proving key uncompressed, verifying key compressed)
//! sha256    32 bytes over everything above
//! ```
//! The hash is checked before anything is parsed; the proving key's points are then read without
//! curve checks (the hash says the file is the one we wrote; checking millions of points would
//! dominate start-up), the verifying key's with full checks (light clients get it from others).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use ark_bn254::Bn254;
use ark_groth16::{Groth16, ProvingKey, VerifyingKey};
use ark_serialize::{CanonicalDeserialize, CanonicalSerialize, Compress, Validate};
use ark_std::rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use rustorium_circuits::block::{BlockCircuit, CircuitShape};
use sha2::{Digest, Sha256};
use thiserror::Error;

use super::{CircuitMatrices, ProofTimings, Prover, ProverError};

const PK_MAGIC: &[u8; 8] = b"RSTMPK\0\x01";
const VK_MAGIC: &[u8; 8] = b"RSTMVK\0\x01";
const HEADER: usize = 8 + 4 + 4 + 4 + 8 + 8;

/// SHA-256 of the compressed verifying key: how envelopes name their key.
pub type VkHash = [u8; 32];

/// Errors of key generation and key files.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum KeyError {
    /// Reading or writing failed.
    #[error("{path}: {source}")]
    Io {
        /// File.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
    /// Not a key file of this kind, or truncated.
    #[error("{0}: not a Rustorium key file of this kind (bad magic or length)")]
    Format(String),
    /// The content hash does not match.
    #[error("{0}: content hash mismatch (corrupted or modified)")]
    Hash(String),
    /// The body does not parse.
    #[error("{path}: {message}")]
    Body {
        /// File.
        path: String,
        /// Parser message.
        message: String,
    },
    /// The circuit shape is unsupported or key generation failed.
    #[error("key generation: {0}")]
    Setup(String),
}

/// A proving key with its shape and provenance, and (built on first use) its shape's R1CS
/// matrices.
#[derive(Clone, Debug)]
pub struct KeyPair {
    /// Circuit shape.
    pub shape: CircuitShape,
    /// The devnet seed, when the key is an insecure devnet key.
    pub dev_seed: Option<u64>,
    /// The proving key (contains the verifying key).
    pub pk: ProvingKey<Bn254>,
    matrices: OnceLock<Arc<CircuitMatrices>>,
    /// Identifies this key's bases to device MSM backends (unique per `KeyPair::new`; clones
    /// share it, and the key is never modified after construction by our code).
    bases_owner: u64,
}

impl KeyPair {
    /// Wraps a proving key made for `shape`.
    pub fn new(shape: CircuitShape, dev_seed: Option<u64>, pk: ProvingKey<Bn254>) -> Self {
        Self {
            shape,
            dev_seed,
            pk,
            matrices: OnceLock::new(),
            bases_owner: crate::accel::msm::BasesId::new_owner(),
        }
    }

    /// The R1CS matrices of the key's shape, synthesized once.
    pub fn matrices(&self) -> Result<Arc<CircuitMatrices>, ProverError> {
        if let Some(m) = self.matrices.get() {
            return Ok(m.clone());
        }
        let blank =
            BlockCircuit::blank(self.shape).map_err(|e| ProverError::KeyMismatch(e.to_string()))?;
        let m = Arc::new(CircuitMatrices::of(blank)?);
        Ok(self.matrices.get_or_init(|| m).clone())
    }

    /// Proves `circuit` (which must have the key's shape) and verifies the proof.
    pub fn prove<R: ark_std::rand::RngCore + ark_std::rand::CryptoRng>(
        &self,
        prover: &Prover,
        circuit: BlockCircuit,
        rng: &mut R,
    ) -> Result<(ark_groth16::Proof<Bn254>, ProofTimings), ProverError> {
        if circuit.shape != self.shape {
            return Err(ProverError::KeyMismatch(format!(
                "circuit {:?}, key {:?}",
                circuit.shape, self.shape
            )));
        }
        let matrices = self.matrices()?;
        prover.prove_resident(&self.pk, &matrices, self.bases_owner, circuit, rng)
    }
}

/// SHA-256 of the compressed verifying key.
pub fn vk_hash(vk: &VerifyingKey<Bn254>) -> VkHash {
    let mut bytes = Vec::new();
    vk.serialize_compressed(&mut bytes)
        .expect("writing to a Vec cannot fail");
    Sha256::digest(&bytes).into()
}

/// Generates the keys of `shape` from `seed`. INSECURE: anyone who knows the seed knows the
/// trapdoor and can forge proofs. For devnets and tests only.
pub fn dev_setup(shape: CircuitShape, seed: u64) -> Result<KeyPair, KeyError> {
    let circuit = BlockCircuit::blank(shape).map_err(|e| KeyError::Setup(e.to_string()))?;
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let pk = Groth16::<Bn254>::generate_random_parameters_with_reduction(circuit, &mut rng)
        .map_err(|e| KeyError::Setup(e.to_string()))?;
    Ok(KeyPair::new(shape, Some(seed), pk))
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> KeyError + '_ {
    move |source| KeyError::Io {
        path: path.display().to_string(),
        source,
    }
}

fn write_file(
    path: &Path,
    magic: &[u8; 8],
    shape: CircuitShape,
    seed: Option<u64>,
    body: &[u8],
) -> Result<(), KeyError> {
    let mut out = Vec::with_capacity(HEADER + body.len() + 32);
    out.extend_from_slice(magic);
    out.extend_from_slice(&(shape.depth as u32).to_le_bytes());
    out.extend_from_slice(&(shape.capacity as u32).to_le_bytes());
    out.extend_from_slice(&u32::from(seed.is_some()).to_le_bytes());
    out.extend_from_slice(&seed.unwrap_or(0).to_le_bytes());
    out.extend_from_slice(&(body.len() as u64).to_le_bytes());
    out.extend_from_slice(body);
    let hash = Sha256::digest(&out);
    out.extend_from_slice(&hash);
    // Write beside, then rename: a crash never leaves a half-written key under the real name.
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::File::create(&tmp).map_err(io(&tmp))?;
    f.write_all(&out).map_err(io(&tmp))?;
    f.sync_all().map_err(io(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io(path))
}

/// Reads a key file: `(shape, dev seed, body)` after checking magic, length and hash.
fn read_file(
    path: &Path,
    magic: &[u8; 8],
) -> Result<(CircuitShape, Option<u64>, Vec<u8>), KeyError> {
    let bytes = std::fs::read(path).map_err(io(path))?;
    parse_file(&bytes, magic, &path.display().to_string())
}

fn parse_file(
    bytes: &[u8],
    magic: &[u8; 8],
    origin: &str,
) -> Result<(CircuitShape, Option<u64>, Vec<u8>), KeyError> {
    let name = || origin.to_string();
    if bytes.len() < HEADER + 32 || &bytes[..8] != magic {
        return Err(KeyError::Format(name()));
    }
    let u32_at = |i: usize| u32::from_le_bytes(bytes[i..i + 4].try_into().expect("4 bytes"));
    let u64_at = |i: usize| u64::from_le_bytes(bytes[i..i + 8].try_into().expect("8 bytes"));
    let body_len = u64_at(28);
    if body_len != (bytes.len() - HEADER - 32) as u64 {
        return Err(KeyError::Format(name()));
    }
    let (content, hash) = bytes.split_at(bytes.len() - 32);
    if Sha256::digest(content).as_slice() != hash {
        return Err(KeyError::Hash(name()));
    }
    let shape = CircuitShape {
        depth: u32_at(8) as usize,
        capacity: u32_at(12) as usize,
    };
    let seed = (u32_at(16) & 1 == 1).then(|| u64_at(20));
    Ok((shape, seed, content[HEADER..].to_vec()))
}

/// Writes `proving.key`, `verifying.key` into `dir` (created if needed); returns their paths.
pub fn save_keys(dir: &Path, keys: &KeyPair) -> Result<(PathBuf, PathBuf), KeyError> {
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let mut pk_body = Vec::new();
    keys.pk
        .serialize_uncompressed(&mut pk_body)
        .map_err(|e| KeyError::Setup(e.to_string()))?;
    let mut vk_body = Vec::new();
    keys.pk
        .vk
        .serialize_compressed(&mut vk_body)
        .map_err(|e| KeyError::Setup(e.to_string()))?;
    let pk_path = dir.join("proving.key");
    let vk_path = dir.join("verifying.key");
    write_file(&pk_path, PK_MAGIC, keys.shape, keys.dev_seed, &pk_body)?;
    write_file(&vk_path, VK_MAGIC, keys.shape, keys.dev_seed, &vk_body)?;
    Ok((pk_path, vk_path))
}

/// Loads a proving key file.
pub fn load_proving_key(path: &Path) -> Result<KeyPair, KeyError> {
    let (shape, dev_seed, body) = read_file(path, PK_MAGIC)?;
    let pk = ProvingKey::<Bn254>::deserialize_with_mode(&body[..], Compress::No, Validate::No)
        .map_err(|e| KeyError::Body {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
    Ok(KeyPair::new(shape, dev_seed, pk))
}

/// Loads a verifying key file (points fully checked).
pub fn load_verifying_key(path: &Path) -> Result<(CircuitShape, VerifyingKey<Bn254>), KeyError> {
    let bytes = std::fs::read(path).map_err(io(path))?;
    parse_verifying_key(&bytes, &path.display().to_string())
}

/// Parses the bytes of a verifying key file (`origin` names it in errors).
pub fn parse_verifying_key(
    bytes: &[u8],
    origin: &str,
) -> Result<(CircuitShape, VerifyingKey<Bn254>), KeyError> {
    let (shape, _, body) = parse_file(bytes, VK_MAGIC, origin)?;
    let path = Path::new(origin);
    let vk = VerifyingKey::<Bn254>::deserialize_with_mode(&body[..], Compress::Yes, Validate::Yes)
        .map_err(|e| KeyError::Body {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
    Ok((shape, vk))
}
