//! clap commands. Errors print to stderr and exit with status 2; `crypto eddsa verify` exits 1 for a
//! well-formed but invalid signature.

mod ceremony;
mod circuit;
mod crypto;
mod debug;
mod demo;
mod fleet;
mod hardware;
mod keys;
mod node;
mod policy;
mod prove;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "rustorium",
    version,
    about = "GPU-accelerated zero-knowledge proving node"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Poseidon and EdDSA-Poseidon primitives.
    #[command(subcommand)]
    Crypto(crypto::CryptoCommand),
    /// Key files.
    #[command(subcommand)]
    Keys(keys::KeysCommand),
    /// The block circuit in circom's formats (`.r1cs`), for snarkjs and ceremony tools.
    #[command(subcommand)]
    Circuit(circuit::CircuitCommand),
    /// Groth16 phase-2 ceremony over snarkjs `.ptau`/`.zkey` files: new, contribute, beacon,
    /// verify, export (docs/ceremony.md).
    #[command(subcommand)]
    Ceremony(ceremony::CeremonyCommand),
    /// Build a state store from genesis, apply blocks of signed transfers, print roots and a
    /// verified account proof.
    Demo(demo::DemoArgs),
    /// Generate (insecure, devnet) Groth16 keys for a circuit shape.
    Setup(prove::SetupArgs),
    /// Prove the demo's first block end to end and write its envelope and snarkjs files.
    Prove(demo::ProveArgs),
    /// Light-client verification.
    #[command(subcommand)]
    Light(LightCommand),
    /// Run a node.
    Node(node::NodeArgs),
    /// A prover worker of the proving fleet: takes jobs from NATS JetStream, proves them, sends
    /// the proofs back (the node verifies each before it stores it).
    Prover(fleet::ProverArgs),
    /// A local devnet: a node on a fresh data directory, a stream of signed transfers over QUIC, a
    /// live summary with the built-in light client.
    Devnet(node::DevnetArgs),
    /// Transactions.
    #[command(subcommand)]
    Tx(node::TxCommand),
    /// Benchmarks with their references side by side (markdown tables): runs `rustorium-bench`
    /// (built beside this binary) with the arguments given; `rustorium bench --help` lists them.
    #[command(disable_help_flag = true)]
    Bench {
        /// Passed to `rustorium-bench`.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<std::ffi::OsString>,
    },
    /// Admission policy scripts (gluon).
    #[command(subcommand)]
    Policy(policy::PolicyCommand),
    /// Hardware detection and backend self-checks.
    #[command(subcommand)]
    Hardware(hardware::HardwareCommand),
    /// Tools for tests and diagnostics.
    #[command(subcommand, hide = true)]
    Debug(debug::DebugCommand),
}

#[derive(Subcommand)]
enum LightCommand {
    /// Verify a proof envelope file: exit 0 if valid, 1 if invalid, 2 if malformed.
    #[command(flatten)]
    Verify(prove::LightCommand),
    /// Download headers and proofs from a node, verify the chain from genesis, print the head.
    Sync(node::LightArgs),
    /// Verify an account's Merkle proof against the verified head.
    Account {
        /// Account index.
        index: u64,
        #[command(flatten)]
        light: node::LightArgs,
    },
}

/// What a command reports besides success.
pub(crate) enum Outcome {
    /// Exit 0.
    Ok,
    /// Exit with this status (e.g. 1 for an invalid signature).
    Status(u8),
}

/// The genesis at `path`, or the built-in devnet genesis when none is given.
pub(crate) fn load_genesis(
    path: Option<&std::path::Path>,
) -> anyhow::Result<rustorium::state::Genesis> {
    Ok(match path {
        Some(p) => rustorium::state::Genesis::load(p)?,
        None => rustorium::state::Genesis::parse(
            rustorium::builtin::GENESIS,
            "built-in devnet genesis (config/genesis.toml)",
        )?,
    })
}

/// A genesis for display: its path, or "the built-in devnet genesis".
/// The default halo2 parameter cache: `$HOME/.cache/rustorium/halo2` (parameters are derived from a
/// public string, so the cache holds nothing secret).
pub(crate) fn halo2_params_dir() -> std::path::PathBuf {
    std::env::var_os("HOME")
        .map_or_else(std::env::temp_dir, std::path::PathBuf::from)
        .join(".cache/rustorium/halo2")
}

pub(crate) fn genesis_name(path: Option<&std::path::Path>) -> String {
    path.map_or("the built-in devnet genesis".to_string(), |p| {
        p.display().to_string()
    })
}

/// `rustorium bench …`: the harnesses live in the `rustorium-bench` binary (its own crate, with
/// the reference implementations), found beside this executable.
fn run_bench(args: &[std::ffi::OsString]) -> anyhow::Result<Outcome> {
    use anyhow::Context;
    let exe = std::env::current_exe().context("locating this executable")?;
    let bench = exe.with_file_name("rustorium-bench");
    let status = std::process::Command::new(&bench)
        .args(args)
        .status()
        .with_context(|| {
            format!(
                "running {} (build it with `cargo build --release -p rustorium-bench`, as \
                 scripts/run.sh and scripts/test.sh do)",
                bench.display()
            )
        })?;
    Ok(match status.code() {
        Some(0) => Outcome::Ok,
        Some(c) => Outcome::Status(u8::try_from(c).unwrap_or(2)),
        None => anyhow::bail!("{} was killed by a signal", bench.display()),
    })
}

pub(crate) fn run() -> ExitCode {
    let cli = Cli::parse();
    rustorium::logging::init_stderr();
    if let Err(missing) = rustorium::accel::check_build_target() {
        eprintln!(
            "error: this rustorium was built for CPUs with {missing} instructions \
             (-C target-feature); this CPU lacks them: use a build without those flags"
        );
        return ExitCode::FAILURE;
    }
    let result = match cli.command {
        Command::Crypto(c) => crypto::run(c),
        Command::Keys(c) => keys::run(c),
        Command::Circuit(c) => circuit::run(c),
        Command::Ceremony(c) => ceremony::run(c),
        Command::Demo(a) => demo::run(a),
        Command::Setup(a) => prove::run_setup(a),
        Command::Prove(a) => demo::run_prove(a),
        Command::Light(LightCommand::Verify(c)) => prove::run_light(c),
        Command::Light(LightCommand::Sync(a)) => node::run_light(node::LightNodeCommand::Sync(a)),
        Command::Light(LightCommand::Account { index, light }) => {
            node::run_light(node::LightNodeCommand::Account { index, light })
        }
        Command::Node(a) => node::run_node(a),
        Command::Prover(a) => fleet::run_prover(a),
        Command::Devnet(a) => node::run_devnet(a),
        Command::Tx(c) => node::run_tx(c),
        Command::Bench { args } => run_bench(&args),
        Command::Hardware(c) => hardware::run(c),
        Command::Policy(c) => policy::run(c),
        Command::Debug(c) => debug::run(c),
    };
    match result {
        Ok(Outcome::Ok) => ExitCode::SUCCESS,
        Ok(Outcome::Status(s)) => ExitCode::from(s),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
