//! `rustorium ceremony`: a Groth16 phase-2 ceremony over snarkjs `.ptau`/`.zkey` files
//! (docs/ceremony.md). Every file is interchangeable with snarkjs's `zkey` commands.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use rustorium::prover::ceremony::{self, Ptau, Zkey, format_hash};
use rustorium::prover::{CircuitMatrices, KeyPair, save_keys, vk_hash};
use rustorium_circuits::block::{BlockCircuit, CircuitShape};

use super::Outcome;

#[derive(Subcommand)]
pub(crate) enum CeremonyCommand {
    /// Make the initial key (`c_0000.zkey`) of a circuit shape from a prepared Powers of Tau.
    New {
        /// Powers of Tau file (snarkjs `.ptau`, prepared for phase 2).
        #[arg(long)]
        ptau: PathBuf,
        /// Circuit shape as `<depth>x<capacity>`, e.g. `32x4`.
        #[arg(long, value_parser = parse_shape)]
        shape: CircuitShape,
        /// Output `.zkey`.
        #[arg(long)]
        out: PathBuf,
    },
    /// Add a contribution with fresh randomness (OS entropy plus `--entropy`); prints its hash
    /// for the public transcript.
    Contribute {
        /// The latest `.zkey`.
        #[arg(long = "in")]
        input: PathBuf,
        /// The new `.zkey`.
        #[arg(long)]
        out: PathBuf,
        /// Contributor name recorded in the file (at most 64 characters).
        #[arg(long)]
        name: Option<String>,
        /// Extra entropy text, hashed with 64 bytes from the OS.
        #[arg(long, default_value = "")]
        entropy: String,
    },
    /// Apply a public random beacon (a value announced in advance, e.g. a future block hash).
    Beacon {
        /// The latest `.zkey`.
        #[arg(long = "in")]
        input: PathBuf,
        /// The new `.zkey`.
        #[arg(long)]
        out: PathBuf,
        /// The beacon value in hex (1–255 bytes).
        #[arg(long)]
        beacon: String,
        /// SHA-256 is iterated 2^N times over it (10–63).
        #[arg(long, default_value_t = 10)]
        iterations_exp: u8,
        /// Name recorded in the file.
        #[arg(long)]
        name: Option<String>,
    },
    /// Verify a `.zkey`'s whole chain of contributions against the shape's circuit and the
    /// Powers of Tau; prints each contribution's hash and the transcript hash.
    ///
    /// With `--init` instead of `--ptau`/`--shape`, checks against an initial key already
    /// verified (seconds instead of rebuilding it, like `snarkjs zkey verify init`).
    Verify {
        /// Powers of Tau file.
        #[arg(long, required_unless_present = "init", requires = "shape")]
        ptau: Option<PathBuf>,
        /// Circuit shape.
        #[arg(long, value_parser = parse_shape, requires = "ptau")]
        shape: Option<CircuitShape>,
        /// The initial `.zkey` (`c_0000.zkey`), instead of `--ptau` and `--shape`.
        #[arg(long, conflicts_with_all = ["ptau", "shape"])]
        init: Option<PathBuf>,
        /// The `.zkey` to check.
        #[arg(long)]
        zkey: PathBuf,
    },
    /// Verify the final `.zkey`, then write our key files (the transcript hash in their header).
    ///
    /// Against the initial key rebuilt from `--ptau`, or given with `--init` (one verified
    /// before, as `verify --init` uses it).
    Export {
        /// Powers of Tau file.
        #[arg(long, required_unless_present = "init")]
        ptau: Option<PathBuf>,
        /// The initial `.zkey`, instead of `--ptau`.
        #[arg(long, conflicts_with = "ptau")]
        init: Option<PathBuf>,
        /// Circuit shape.
        #[arg(long, value_parser = parse_shape)]
        shape: CircuitShape,
        /// The final `.zkey`.
        #[arg(long)]
        zkey: PathBuf,
        /// The node's key directory: the files go to `<keys-dir>/d<depth>-c<capacity>/`.
        #[arg(long)]
        keys_dir: PathBuf,
    },
}

fn parse_shape(s: &str) -> Result<CircuitShape, String> {
    let (d, c) = s
        .split_once('x')
        .ok_or_else(|| format!("shape {s:?} is not <depth>x<capacity>"))?;
    let shape = CircuitShape {
        depth: d
            .parse()
            .map_err(|_| format!("depth {d:?} is not a number"))?,
        capacity: c
            .parse()
            .map_err(|_| format!("capacity {c:?} is not a number"))?,
    };
    BlockCircuit::blank(shape).map_err(|e| e.to_string())?;
    Ok(shape)
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("reading {}", path.display()))
}

fn read_zkey(path: &Path) -> Result<Zkey> {
    Zkey::read(&read(path)?).with_context(|| format!("{}", path.display()))
}

fn write_zkey(path: &Path, z: &Zkey) -> Result<()> {
    std::fs::write(path, z.to_bytes()).with_context(|| format!("writing {}", path.display()))
}

/// The shape's matrices (`new_zkey` and `coefficients_of` merge repeated wires as the `.r1cs`
/// states them).
fn matrices(shape: CircuitShape) -> Result<CircuitMatrices> {
    Ok(CircuitMatrices::of(BlockCircuit::blank(shape)?)?)
}

fn initial(ptau: &Path, shape: CircuitShape) -> Result<Zkey> {
    let bytes = read(ptau)?;
    let p = Ptau::read(&bytes).with_context(|| format!("{}", ptau.display()))?;
    Ok(ceremony::new_zkey(&matrices(shape)?, &p)?)
}

/// Verifies `zkey` against `init` and prints its contributions; `None` (after printing why) when
/// invalid.
fn verified(init: &Zkey, zkey: &Path) -> Result<Option<Zkey>> {
    let z = read_zkey(zkey)?;
    match ceremony::verify(&z, init) {
        Ok(list) => {
            for (i, c) in list.iter().enumerate() {
                println!(
                    "contribution #{} {}{}:\n{}",
                    i + 1,
                    c.name.as_deref().unwrap_or("(no name)"),
                    if c.beacon { " [beacon]" } else { "" },
                    format_hash(&c.hash)
                );
            }
            if list.is_empty() {
                println!(
                    "no contributions: this initial key is insecure until someone contributes"
                );
            }
            println!(
                "transcript hash:\n{}",
                format_hash(&ceremony::transcript_hash(&z))
            );
            Ok(Some(z))
        }
        Err(e) => {
            println!("invalid: {e}");
            Ok(None)
        }
    }
}

pub(crate) fn run(cmd: CeremonyCommand) -> Result<Outcome> {
    match cmd {
        CeremonyCommand::New { ptau, shape, out } => {
            let z = initial(&ptau, shape)?;
            write_zkey(&out, &z)?;
            println!(
                "{}: {} wires, {} public inputs, domain 2^{}; circuit hash:\n{}",
                out.display(),
                z.n_vars,
                z.n_public,
                z.domain_size.trailing_zeros(),
                format_hash(&z.cs_hash)
            );
        }
        CeremonyCommand::Contribute {
            input,
            out,
            name,
            entropy,
        } => {
            let mut z = read_zkey(&input)?;
            let hash = ceremony::contribute(&mut z, &entropy, name.as_deref())?;
            write_zkey(&out, &z)?;
            println!("contribution hash:\n{}", format_hash(&hash));
        }
        CeremonyCommand::Beacon {
            input,
            out,
            beacon,
            iterations_exp,
            name,
        } => {
            let value = hex_bytes(&beacon)?;
            let mut z = read_zkey(&input)?;
            let hash = ceremony::beacon(&mut z, &value, iterations_exp, name.as_deref())?;
            write_zkey(&out, &z)?;
            println!("contribution hash:\n{}", format_hash(&hash));
        }
        CeremonyCommand::Verify {
            ptau,
            shape,
            init,
            zkey,
        } => {
            let init = match (init, ptau, shape) {
                (Some(init), _, _) => read_zkey(&init)?,
                (None, Some(ptau), Some(shape)) => initial(&ptau, shape)?,
                _ => bail!("give --init, or --ptau and --shape"),
            };
            if verified(&init, &zkey)?.is_none() {
                return Ok(Outcome::Status(1));
            }
            println!("valid");
        }
        CeremonyCommand::Export {
            ptau,
            init,
            shape,
            zkey,
            keys_dir,
        } => {
            let init = match (init, ptau) {
                (Some(path), _) => {
                    // Without the .ptau, at least tie the initial key to this shape's circuit.
                    let init = read_zkey(&path)?;
                    if init.coefficients != ceremony::coefficients_of(&matrices(shape)?) {
                        bail!(
                            "{} is not the initial key of the {}x{} block circuit (its coefficients differ)",
                            path.display(),
                            shape.depth,
                            shape.capacity
                        );
                    }
                    init
                }
                (None, Some(ptau)) => initial(&ptau, shape)?,
                (None, None) => bail!("give --ptau or --init"),
            };
            let Some(z) = verified(&init, &zkey)? else {
                return Ok(Outcome::Status(1));
            };
            if z.contributions.is_empty() {
                bail!(
                    "{} has no contributions: its toxic waste is public",
                    zkey.display()
                );
            }
            let pk = ceremony::export(&z)?;
            let keys = KeyPair::new(shape, None, pk).with_transcript(ceremony::transcript_hash(&z));
            let (pk_path, vk_path) = save_keys(&super::prove::key_dir(&keys_dir, shape), &keys)?;
            println!(
                "wrote {} and {}\nverifying-key hash (pin it in the genesis): {}",
                pk_path.display(),
                vk_path.display(),
                hex::encode(vk_hash(&keys.pk.vk))
            );
        }
    }
    Ok(Outcome::Ok)
}

fn hex_bytes(s: &str) -> Result<Vec<u8>> {
    let s = s.strip_prefix("0x").unwrap_or(s);
    if !s.len().is_multiple_of(2) || s.is_empty() {
        bail!("beacon {s:?} is not an even number of hex digits");
    }
    (0..s.len())
        .step_by(2)
        .map(|i| {
            u8::from_str_radix(&s[i..i + 2], 16).with_context(|| format!("beacon {s:?} is not hex"))
        })
        .collect()
}
