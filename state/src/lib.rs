//! Account state: a Poseidon sparse Merkle tree over a versioned redb node store, block execution
//! of signed transfers, and genesis.

mod exec;
mod genesis;
mod store;

pub use exec::{
    AccountSource, AppliedTransfer, BlockPlan, ExecutedBlock, NonceRule, Snapshot, TransferRules,
    TxError, ValidTransfer, commit_plan, execute_block, execute_block_with, plan_block,
    validate_transfer,
};
pub use genesis::{Genesis, GenesisAccount, GenesisError, dev_secret, dev_validator_key};
pub use store::{StateReader, StateStore, StoreOptions};

use rustorium_circuits::merkle::MerkleError;
use thiserror::Error;

use rustorium_accel::AccelError;

/// Errors of the state store.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database failed (I/O, corruption detected by redb, lock held by another process).
    #[error("database: {0}")]
    Db(#[from] redb::Error),
    /// `create` was given a path that already exists.
    #[error("state store {0} already exists")]
    AlreadyExists(String),
    /// `open` was given a path that does not exist.
    #[error("state store {0} does not exist")]
    Missing(String),
    /// A batch was committed out of order.
    #[error("expected version {expected}, got {got}")]
    VersionOrder {
        /// The next version.
        expected: u64,
        /// The version given.
        got: u64,
    },
    /// The version was pruned.
    #[error("version {version} was pruned (oldest kept: {oldest})")]
    VersionPruned {
        /// Requested version.
        version: u64,
        /// Oldest readable version.
        oldest: u64,
    },
    /// The version was never committed.
    #[error("version {0} does not exist")]
    UnknownVersion(u64),
    /// A new account's key is already used by another index.
    #[error("key of new account {index} already belongs to account {existing}")]
    DuplicateKey {
        /// The new account's index.
        index: u64,
        /// The index holding the key.
        existing: u64,
    },
    /// Stored bytes do not decode.
    #[error("corrupt store: {0}")]
    Corrupt(String),
    /// A file operation around the database failed (names the file).
    #[error("{0}")]
    Io(String),
    /// A tree-shape error (depth, index out of range).
    #[error(transparent)]
    Merkle(#[from] MerkleError),
    /// The batch hasher failed.
    #[error("batch hashing: {0}")]
    Accel(#[from] AccelError),
    /// The block's producer account does not exist.
    #[error("block producer {0} is not an account")]
    UnknownProducer(u64),
    /// The witness path and the batch update disagree (a bug, never expected).
    #[error("witness root {witness} differs from committed root {committed}")]
    RootMismatch {
        /// Root from the witness.
        witness: String,
        /// Root from the batch update.
        committed: String,
    },
}

macro_rules! redb_error {
    ($($t:ty),*) => {
        $(impl From<$t> for StoreError {
            fn from(e: $t) -> Self {
                StoreError::Db(e.into())
            }
        })*
    };
}
redb_error!(
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);
