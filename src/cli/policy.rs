//! `rustorium policy check|test`: the admission policy script outside the node.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Subcommand;
use rustorium::policy::{Policy, PolicyInput, PolicyLimits};

use super::Outcome;

#[derive(Subcommand)]
pub(crate) enum PolicyCommand {
    /// Parses and type-checks a script (exit 0 ok, 1 refused with the compiler's message).
    Check {
        /// The script.
        script: PathBuf,
    },
    /// Runs a script on one transfer (`{"from", "amount", "fee", "nonce_gap", "pending",
    /// "new_recipient", "score"}`, missing fields 0/false) under the default limits and prints
    /// the decision as JSON.
    Test {
        /// The script.
        script: PathBuf,
        /// The transfer, JSON.
        tx: PathBuf,
    },
}

pub(crate) fn run(cmd: PolicyCommand) -> Result<Outcome> {
    match cmd {
        PolicyCommand::Check { script } => {
            let text = std::fs::read_to_string(&script)
                .with_context(|| format!("reading {}", script.display()))?;
            match Policy::check(&script.display().to_string(), &text) {
                Ok(()) => {
                    println!("ok: {} type-checks", script.display());
                    Ok(Outcome::Ok)
                }
                Err(e) => {
                    println!("refused: {e}");
                    Ok(Outcome::Status(1))
                }
            }
        }
        PolicyCommand::Test { script, tx } => {
            let policy = Policy::load(&script, PolicyLimits::default())?;
            let text = std::fs::read_to_string(&tx)
                .with_context(|| format!("reading {}", tx.display()))?;
            let input: PolicyInput = serde_json::from_str(&text)
                .with_context(|| format!("{}: expected a transfer object", tx.display()))?;
            let decision = match policy.try_decide(&input) {
                Ok(d) => serde_json::to_value(&d)?,
                Err(e) => serde_json::json!({"decision": "error", "reason": e.to_string()}),
            };
            println!("{decision}");
            Ok(Outcome::Ok)
        }
    }
}
