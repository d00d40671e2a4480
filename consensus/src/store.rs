//! What consensus keeps on disk, in the node's redb database beside the state: the votes this
//! validator signed (the double-sign guard) and the decided blocks with their commit
//! certificates (what block sync serves). The tables and their formats belong to consensus; the
//! node only hands over its database and, for a decided block, the write transaction that
//! commits the block, so that the block and its certificate are committed together.

use malachitebft_core_types as mt;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition, WriteTransaction};

use super::codec::Wire;
use super::types::{BlockHash, BlockValue, Ctx, Vote};

/// Decided blocks as sync serves them: height → `Wire::SyncBlock` bytes (value + certificate).
const DECIDED: TableDefinition<u64, &[u8]> = TableDefinition::new("consensus_decided");
/// Votes this validator signed: (height, round, type) → the value voted for (empty = nil).
const SIGNED_VOTES: TableDefinition<(u64, i64, u8), &[u8]> =
    TableDefinition::new("consensus_signed_votes");

/// Why a consensus record could not be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConsensusStoreError {
    /// The database failed.
    #[error("consensus store: {0}")]
    Db(#[from] redb::Error),
    /// A record does not decode.
    #[error("consensus record {0} is corrupt")]
    Corrupt(String),
}

macro_rules! db_err {
    ($($t:ty),*) => {$(
        impl From<$t> for ConsensusStoreError {
            fn from(e: $t) -> Self {
                Self::Db(e.into())
            }
        }
    )*};
}
db_err!(
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);

/// Records a decided block with its certificate inside `txn` (the transaction that commits the
/// block).
pub fn record_decided(
    txn: &WriteTransaction,
    value: &BlockValue,
    cert: &mt::CommitCertificate<Ctx>,
) -> Result<(), ConsensusStoreError> {
    let record = Wire::SyncBlock(value.clone(), cert.clone()).encode();
    txn.open_table(DECIDED)?
        .insert(value.height, record.as_slice())?;
    Ok(())
}

/// A decided block and its certificate, as sync serves it.
#[allow(clippy::type_complexity)]
pub fn decided(
    db: &Database,
    height: u64,
) -> Result<Option<(BlockValue, mt::CommitCertificate<Ctx>)>, ConsensusStoreError> {
    let txn = db.begin_read()?;
    let table = match txn.open_table(DECIDED) {
        Ok(t) => t,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let Some(bytes) = table.get(height)? else {
        return Ok(None);
    };
    match Wire::decode(bytes.value()) {
        Ok(Wire::SyncBlock(v, c)) if v.height == height => Ok(Some((v, c))),
        _ => Err(ConsensusStoreError::Corrupt(format!(
            "decided block {height}"
        ))),
    }
}

/// The double-sign guard: records the vote before it is signed; if this validator already
/// signed another value at the same (height, round, type) — before a restart — returns that
/// vote instead.
pub fn guard_vote(db: &Database, v: Vote) -> Result<Vote, ConsensusStoreError> {
    let key = (
        v.height.0,
        v.round.as_i64(),
        matches!(v.kind, mt::VoteType::Precommit) as u8,
    );
    let value: Vec<u8> = match &v.value {
        mt::NilOrVal::Nil => Vec::new(),
        mt::NilOrVal::Val(h) => h.0.to_vec(),
    };
    let txn = db.begin_write()?;
    let previous = {
        let mut t = txn.open_table(SIGNED_VOTES)?;
        let prev = t.get(key)?.map(|g| g.value().to_vec());
        if prev.is_none() {
            t.insert(key, value.as_slice())?;
        }
        prev
    };
    txn.commit()?;
    match previous {
        Some(p) if p != value => {
            tracing::warn!(
                height = key.0,
                round = key.1,
                "re-signing the vote recorded before a restart"
            );
            let value = if p.is_empty() {
                mt::NilOrVal::Nil
            } else {
                let b: [u8; 32] = p.try_into().map_err(|_| {
                    ConsensusStoreError::Corrupt(format!("vote at height {}", key.0))
                })?;
                mt::NilOrVal::Val(BlockHash(b))
            };
            Ok(Vote { value, ..v })
        }
        _ => Ok(v),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{Height, ValidatorId};

    fn precommit(round: i64, value: Option<u8>) -> Vote {
        Vote {
            kind: mt::VoteType::Precommit,
            height: Height(3),
            round: mt::Round::from(round),
            value: value.map_or(mt::NilOrVal::Nil, |b| mt::NilOrVal::Val(BlockHash([b; 32]))),
            validator: ValidatorId(0),
        }
    }

    /// The double-sign guard: the first vote at (height, round, type) is recorded before it is
    /// signed; a later, different vote at the same place (as after a restart with lost consensus
    /// state) is replaced by the recorded one, also after the database is reopened; other
    /// places are free.
    #[test]
    fn the_vote_guard_never_signs_two_values_at_one_place() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("votes.redb");
        let db = Database::create(&path).expect("db");
        let first = precommit(0, Some(1));
        assert_eq!(guard_vote(&db, first.clone()).expect("guard"), first);
        assert_eq!(guard_vote(&db, first.clone()).expect("guard"), first);
        assert_eq!(
            guard_vote(&db, precommit(0, Some(2))).expect("guard"),
            first,
            "a second value at the same place signs the first again"
        );
        assert_eq!(guard_vote(&db, precommit(0, None)).expect("guard"), first);
        let prevote = Vote {
            kind: mt::VoteType::Prevote,
            ..precommit(0, Some(2))
        };
        assert_eq!(guard_vote(&db, prevote.clone()).expect("guard"), prevote);
        let nil_next_round = precommit(1, None);
        assert_eq!(
            guard_vote(&db, nil_next_round.clone()).expect("guard"),
            nil_next_round
        );
        drop(db);
        let db = Database::create(&path).expect("db reopens");
        assert_eq!(
            guard_vote(&db, precommit(0, Some(3))).expect("guard"),
            first
        );
        assert_eq!(
            guard_vote(&db, precommit(1, Some(3))).expect("guard"),
            nil_next_round,
            "a recorded nil vote is kept too"
        );
    }

    /// A decided record that does not decode is reported as corrupt, never served.
    #[test]
    fn a_corrupt_decided_record_is_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = Database::create(dir.path().join("d.redb")).expect("db");
        assert!(decided(&db, 1).expect("read").is_none());
        let txn = db.begin_write().expect("txn");
        txn.open_table(DECIDED)
            .expect("table")
            .insert(1, [0xffu8, 1, 2].as_slice())
            .expect("insert");
        txn.commit().expect("commit");
        assert!(matches!(
            decided(&db, 1),
            Err(ConsensusStoreError::Corrupt(_))
        ));
    }
}
