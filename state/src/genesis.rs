//! Genesis: chain id, tree depth and funded accounts, from TOML.
//!
//! ```toml
//! chain_id = 1337
//! depth = 32
//! devnet = true        # a devnet: insecure devnet proving keys allowed (default false)
//! [[accounts]]
//! dev_key = 0          # the insecure devnet key number 0 (see `dev_secret`)
//! balance = 1000000
//! [[accounts]]
//! pubkey = "<64 hex chars: circomlib packed point>"
//! balance = 5
//! [[verifying_keys]]   # optional: the key light clients pin, per circuit capacity
//! capacity = 4
//! hash = "<64 hex chars: SHA-256 of the compressed verifying key>"
//! [[verifying_keys]]   # a halo2 chain's key (derived from the shape: transparent)
//! system = "halo2"     # default "groth16"
//! capacity = 4
//! hash = "<64 hex chars: rustorium_halo2::vk_hash>"
//! ```
//! Accounts get indices 0, 1, … in file order. A node refuses to prove with a key whose hash
//! differs from the one its genesis pins for its capacity; `light sync` pins it by default.
//! A chain not marked `devnet = true` refuses insecure devnet proving keys (whose toxic waste
//! derives from a public seed) and never generates them: its keys come from a ceremony.

use std::path::Path;

use blake_hash::{Blake512, Digest};
use rustorium_circuits::account::Account;
use rustorium_circuits::eddsa::{PublicKey, SecretKey};
use rustorium_circuits::merkle::MAX_DEPTH;
use serde::Deserialize;
use thiserror::Error;

/// Errors reading a genesis file.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum GenesisError {
    /// The file could not be read.
    #[error("cannot read genesis {path}: {source}")]
    Io {
        /// File.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
    /// TOML syntax, unknown keys or wrong types.
    #[error("genesis {path}: {message}")]
    Parse {
        /// File.
        path: String,
        /// What the parser said (names the key).
        message: String,
    },
    /// A value is out of range or inconsistent.
    #[error("genesis {path}: {message}")]
    Invalid {
        /// File.
        path: String,
        /// Which key and why.
        message: String,
    },
}

/// One funded account.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenesisAccount {
    /// Number of an insecure devnet key.
    pub dev_key: Option<u64>,
    /// Packed public key, hex.
    pub pubkey: Option<String>,
    /// Initial balance.
    pub balance: u64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GenesisFile {
    chain_id: u64,
    depth: usize,
    #[serde(default)]
    devnet: bool,
    #[serde(default)]
    accounts: Vec<GenesisAccount>,
    #[serde(default)]
    validators: Vec<GenesisValidator>,
    #[serde(default)]
    verifying_keys: Vec<PinnedKey>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PinnedKey {
    /// `"groth16"` (default) or `"halo2"`.
    #[serde(default)]
    system: Option<String>,
    capacity: usize,
    hash: String,
}

/// A validator in the genesis file (`[[validators]]`): an Ed25519 key (devnet number or hex) and
/// the account that receives the fees of the blocks it proposes.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenesisValidator {
    /// Number of an insecure devnet validator key.
    pub dev_key: Option<u64>,
    /// Ed25519 public key, 32 bytes hex.
    pub pubkey: Option<String>,
    /// Fee account index.
    pub fee_account: u64,
}

/// A parsed and validated genesis.
#[derive(Clone, Debug)]
pub struct Genesis {
    /// Chain id every transfer must carry.
    pub chain_id: u64,
    /// Tree depth.
    pub depth: usize,
    /// Accounts at indices 0, 1, ….
    pub accounts: Vec<Account>,
    /// Validators (empty: single-producer mode), with their fee accounts.
    pub validators: Vec<(ed25519_dalek::VerifyingKey, u64)>,
    /// Pinned Groth16 verifying-key hashes `(capacity, SHA-256 of the compressed key)`.
    pub verifying_keys: Vec<(usize, [u8; 32])>,
    /// Pinned halo2 verifying-key hashes `(capacity, rustorium_halo2::vk_hash)`
    /// (`system = "halo2"`).
    pub halo2_keys: Vec<(usize, [u8; 32])>,
    /// Whether the chain is a devnet (`devnet = true`): only then may its nodes prove with
    /// insecure devnet keys. Not part of the genesis state (the roots do not change).
    pub devnet: bool,
}

/// The devnet validator key `i` (insecure: derived from a public seed), named by a genesis
/// validator's `dev_key = i`.
pub fn dev_validator_key(i: u64) -> ed25519_dalek::SigningKey {
    let seed: [u8; 32] =
        <sha2::Sha256 as sha2::Digest>::digest(format!("rustorium devnet validator {i}")).into();
    ed25519_dalek::SigningKey::from_bytes(&seed)
}

/// The secret of devnet key `n`: `BLAKE-512("rustorium devnet key" || n as u64 LE)[..32]`.
/// Public knowledge, for devnets and tests only.
pub fn dev_secret(n: u64) -> SecretKey {
    let mut h = Blake512::new();
    h.update(b"rustorium devnet key");
    h.update(n.to_le_bytes());
    let d = h.finalize();
    SecretKey(d[..32].try_into().expect("64-byte digest"))
}

impl Genesis {
    /// Reads and validates a genesis file.
    pub fn load(path: &Path) -> Result<Self, GenesisError> {
        let p = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| GenesisError::Io {
            path: p.clone(),
            source,
        })?;
        Self::parse(&text, &p)
    }

    /// Parses genesis TOML; `origin` names the source in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Self, GenesisError> {
        let file: GenesisFile = toml::from_str(text).map_err(|e| GenesisError::Parse {
            path: origin.to_string(),
            message: e.to_string(),
        })?;
        let invalid = |message: String| GenesisError::Invalid {
            path: origin.to_string(),
            message,
        };
        if file.depth == 0 || file.depth > MAX_DEPTH {
            return Err(invalid(format!(
                "depth must be 1..={MAX_DEPTH}, got {}",
                file.depth
            )));
        }
        if file.depth < 64 && (file.accounts.len() as u64) > (1u64 << file.depth) {
            return Err(invalid(format!(
                "{} accounts do not fit in depth {}",
                file.accounts.len(),
                file.depth
            )));
        }
        let mut accounts = Vec::with_capacity(file.accounts.len());
        for (i, a) in file.accounts.iter().enumerate() {
            let key = match (&a.dev_key, &a.pubkey) {
                (Some(n), None) => dev_secret(*n).public_key(),
                (None, Some(hex_key)) => {
                    let bytes = hex::decode(hex_key.trim_start_matches("0x"))
                        .map_err(|e| invalid(format!("accounts[{i}].pubkey: {e}")))?;
                    PublicKey::unpack(&bytes)
                        .map_err(|e| invalid(format!("accounts[{i}].pubkey: {e}")))?
                }
                _ => {
                    return Err(invalid(format!(
                        "accounts[{i}]: give exactly one of dev_key and pubkey"
                    )));
                }
            };
            if accounts.iter().any(|b: &Account| b.pubkey == key) {
                return Err(invalid(format!("accounts[{i}]: duplicate key")));
            }
            accounts.push(Account::new(key, a.balance));
        }
        let mut validators = Vec::with_capacity(file.validators.len());
        for (i, v) in file.validators.iter().enumerate() {
            let key = match (&v.dev_key, &v.pubkey) {
                (Some(n), None) => crate::dev_validator_key(*n).verifying_key(),
                (None, Some(h)) => {
                    let bytes: [u8; 32] = hex::decode(h.trim_start_matches("0x"))
                        .ok()
                        .and_then(|b| b.try_into().ok())
                        .ok_or_else(|| {
                            invalid(format!("validators[{i}].pubkey: not 32 bytes of hex"))
                        })?;
                    ed25519_dalek::VerifyingKey::from_bytes(&bytes)
                        .map_err(|e| invalid(format!("validators[{i}].pubkey: {e}")))?
                }
                _ => {
                    return Err(invalid(format!(
                        "validators[{i}]: give exactly one of dev_key and pubkey"
                    )));
                }
            };
            if v.fee_account >= accounts.len() as u64 {
                return Err(invalid(format!(
                    "validators[{i}].fee_account {} is not a genesis account",
                    v.fee_account
                )));
            }
            if validators.iter().any(|(k, _)| *k == key) {
                return Err(invalid(format!("validators[{i}]: duplicate key")));
            }
            validators.push((key, v.fee_account));
        }
        if validators.len() > u16::MAX as usize {
            return Err(invalid("too many validators".into()));
        }
        let mut verifying_keys: Vec<(usize, [u8; 32])> = Vec::new();
        let mut halo2_keys: Vec<(usize, [u8; 32])> = Vec::new();
        for (i, k) in file.verifying_keys.iter().enumerate() {
            let hash: [u8; 32] = hex::decode(k.hash.trim_start_matches("0x"))
                .ok()
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| invalid(format!("verifying_keys[{i}].hash: not 32 bytes of hex")))?;
            let (keys, system) = match k.system.as_deref() {
                None | Some("groth16") => (&mut verifying_keys, "groth16"),
                Some("halo2") => (&mut halo2_keys, "halo2"),
                Some(other) => {
                    return Err(invalid(format!(
                        "verifying_keys[{i}].system: {other:?} is neither \"groth16\" nor \"halo2\""
                    )));
                }
            };
            if keys.iter().any(|(c, _)| *c == k.capacity) {
                return Err(invalid(format!(
                    "verifying_keys[{i}]: {system} capacity {} pinned twice",
                    k.capacity
                )));
            }
            keys.push((k.capacity, hash));
        }
        Ok(Self {
            chain_id: file.chain_id,
            depth: file.depth,
            accounts,
            validators,
            verifying_keys,
            halo2_keys,
            devnet: file.devnet,
        })
    }

    /// SHA-256 of what the genesis puts into the state: `"rustorium genesis state v1" || chain_id
    /// (u64 LE) || depth (u64 LE) || account count (u64 LE) || per account, packed key (32) ||
    /// balance (u64 LE)`. A store records it at creation; a node refuses a genesis file whose hash
    /// differs from its data directory's.
    pub fn state_hash(&self) -> [u8; 32] {
        use sha2::Digest as _;
        let mut h = sha2::Sha256::new();
        h.update(b"rustorium genesis state v1");
        h.update(self.chain_id.to_le_bytes());
        h.update((self.depth as u64).to_le_bytes());
        h.update((self.accounts.len() as u64).to_le_bytes());
        for a in &self.accounts {
            h.update(a.pubkey.pack());
            h.update(a.balance.to_le_bytes());
        }
        h.finalize().into()
    }

    /// The Groth16 verifying-key hash this genesis pins for `capacity`, if any.
    pub fn pinned_vk(&self, capacity: usize) -> Option<[u8; 32]> {
        find_pin(&self.verifying_keys, capacity)
    }

    /// The halo2 verifying-key hash this genesis pins for `capacity`, if any.
    pub fn pinned_halo2_vk(&self, capacity: usize) -> Option<[u8; 32]> {
        find_pin(&self.halo2_keys, capacity)
    }
}

fn find_pin(pins: &[(usize, [u8; 32])], capacity: usize) -> Option<[u8; 32]> {
    pins.iter().find(|(c, _)| *c == capacity).map(|(_, h)| *h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validators_parse_and_bad_ones_are_refused() {
        let base = "chain_id = 7\ndepth = 8\n[[accounts]]\ndev_key = 0\nbalance = 1\n[[accounts]]\ndev_key = 1\nbalance = 1\n";
        let key = crate::dev_validator_key(5).verifying_key();
        let g = Genesis::parse(
            &format!(
                "{base}[[validators]]\ndev_key = 4\nfee_account = 0\n[[validators]]\npubkey = \"{}\"\nfee_account = 1\n",
                hex::encode(key.to_bytes())
            ),
            "g",
        )
        .expect("valid");
        assert_eq!(g.validators.len(), 2);
        assert_eq!(g.validators[1], (key, 1));
        assert_eq!(
            g.validators[0].0,
            crate::dev_validator_key(4).verifying_key()
        );
        for (bad, why) in [
            (
                "[[validators]]\ndev_key = 4\nfee_account = 2\n",
                "fee_account 2",
            ),
            ("[[validators]]\nfee_account = 0\n", "exactly one"),
            (
                "[[validators]]\ndev_key = 4\nfee_account = 0\n[[validators]]\ndev_key = 4\nfee_account = 1\n",
                "duplicate",
            ),
            (
                "[[validators]]\npubkey = \"abcd\"\nfee_account = 0\n",
                "not 32 bytes",
            ),
        ] {
            let e = Genesis::parse(&format!("{base}{bad}"), "g")
                .expect_err(why)
                .to_string();
            assert!(e.contains(why), "{e}");
        }
    }

    #[test]
    fn parses_and_rejects_with_the_key_named() {
        let g = Genesis::parse(
            "chain_id = 7\ndepth = 8\n[[accounts]]\ndev_key = 1\nbalance = 10\n",
            "g",
        )
        .expect("valid");
        assert_eq!(g.accounts[0].pubkey, dev_secret(1).public_key());
        assert_eq!(g.accounts[0].balance, 10);
        let packed = hex::encode(dev_secret(2).public_key().pack());
        let g = Genesis::parse(
            &format!("chain_id = 7\ndepth = 8\n[[accounts]]\npubkey = \"{packed}\"\nbalance = 1\n"),
            "g",
        )
        .expect("valid");
        assert_eq!(g.accounts[0].pubkey, dev_secret(2).public_key());
        let err = Genesis::parse("chain_id = 7\ndepth = 8\ncolor = 1\n", "g.toml")
            .expect_err("unknown key");
        assert!(
            err.to_string().contains("color") && err.to_string().contains("g.toml"),
            "{err}"
        );
        let err = Genesis::parse("chain_id = 7\ndepth = 0\n", "g").expect_err("depth");
        assert!(err.to_string().contains("depth"));
        let dup = "chain_id = 7\ndepth = 8\n[[accounts]]\ndev_key = 1\nbalance = 1\n[[accounts]]\ndev_key = 1\nbalance = 1\n";
        assert!(
            Genesis::parse(dup, "g")
                .expect_err("dup")
                .to_string()
                .contains("duplicate")
        );
        let both =
            "chain_id = 7\ndepth = 8\n[[accounts]]\ndev_key = 1\npubkey = \"00\"\nbalance = 1\n";
        assert!(Genesis::parse(both, "g").is_err());
        let bad_key = format!(
            "chain_id = 7\ndepth = 8\n[[accounts]]\npubkey = \"{}\"\nbalance = 1\n",
            "ff".repeat(32)
        );
        assert!(Genesis::parse(&bad_key, "g").is_err());
    }

    #[test]
    fn keys_are_pinned_per_system_and_capacity() {
        let pin = |system: &str, capacity: usize, byte: &str| {
            format!(
                "[[verifying_keys]]\n{system}capacity = {capacity}\nhash = \"{}\"\n",
                byte.repeat(32)
            )
        };
        let base = "chain_id = 7\ndepth = 8\n";
        let g = Genesis::parse(
            &format!(
                "{base}{}{}{}",
                pin("", 4, "aa"),
                pin("system = \"halo2\"\n", 4, "bb"),
                pin("system = \"groth16\"\n", 1, "cc")
            ),
            "g",
        )
        .expect("valid");
        assert_eq!(g.pinned_vk(4), Some([0xaa; 32]));
        assert_eq!(g.pinned_halo2_vk(4), Some([0xbb; 32]));
        assert_eq!(g.pinned_vk(1), Some([0xcc; 32]));
        assert_eq!(g.pinned_halo2_vk(1), None);
        let err = Genesis::parse(
            &format!("{base}{}", pin("system = \"plonk\"\n", 4, "aa")),
            "g",
        )
        .expect_err("unknown system");
        assert!(err.to_string().contains("plonk"), "{err}");
        let err = Genesis::parse(
            &format!(
                "{base}{}{}",
                pin("system = \"halo2\"\n", 4, "aa"),
                pin("system = \"halo2\"\n", 4, "bb")
            ),
            "g",
        )
        .expect_err("twice");
        assert!(
            err.to_string().contains("halo2 capacity 4 pinned twice"),
            "{err}"
        );
    }
}
