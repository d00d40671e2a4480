//! `rustorium circuit`: the block circuit in circom's formats (`.r1cs`, `.wtns`), for snarkjs,
//! rapidsnark and the ceremony tools.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Subcommand;
use rustorium::prover::{CircuitMatrices, circom};
use rustorium_circuits::block::{BlockCircuit, CircuitShape};

use super::Outcome;

#[derive(Subcommand)]
pub(crate) enum CircuitCommand {
    /// Write the block circuit of a shape as circom's `.r1cs` (`snarkjs r1cs info` reads it).
    R1cs {
        /// Tree depth.
        #[arg(long)]
        depth: usize,
        /// Transfer slots.
        #[arg(long)]
        capacity: usize,
        /// Output file.
        #[arg(long)]
        out: PathBuf,
    },
}

pub(crate) fn run(cmd: CircuitCommand) -> Result<Outcome> {
    match cmd {
        CircuitCommand::R1cs {
            depth,
            capacity,
            out,
        } => {
            let shape = CircuitShape { depth, capacity };
            let blank = BlockCircuit::blank(shape).context("circuit shape")?;
            let m = CircuitMatrices::of(blank)?;
            let mut bytes = Vec::new();
            circom::write_r1cs(&m, &mut bytes)?;
            std::fs::write(&out, &bytes).with_context(|| format!("writing {}", out.display()))?;
            println!(
                "{}: {} wires ({} public inputs), {} constraints, {} bytes",
                out.display(),
                m.num_inputs + m.num_witness,
                m.num_inputs - 1,
                m.num_constraints,
                bytes.len()
            );
            Ok(Outcome::Ok)
        }
    }
}
