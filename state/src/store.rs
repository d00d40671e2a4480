//! The versioned node store on redb.
//!
//! Every committed batch is a version (the block height; genesis is version 0). A node or account
//! written at version `v` is stored under `(…, v)` and is visible to reads at versions `>= v` until a
//! newer entry supersedes it, so any retained version can be read and proven. When an entry is
//! superseded at version `s`, a record `(s, …, old version)` goes to the `stale` table; pruning to
//! keep versions `>= oldest` deletes every entry whose superseding version is `<= oldest` (no retained
//! version can see it).
//!
//! Tables:
//! - `meta`: `"depth"`, `"chain_id"`, `"oldest"` → u64
//! - `nodes`: `(level, index, version)` → 32-byte node (level 0 = leaf hashes)
//! - `accounts`: `(index, version)` → 80-byte account
//! - `keys`: packed public key → index (accounts are never removed)
//! - `roots`: `version` → 32-byte root || next free index (u64 LE)
//! - `stale`: `(superseded_at, table, level, index, old_version)` → ()

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use redb::{
    Database, ReadOnlyTable, ReadTransaction, ReadableDatabase, ReadableTable, Table,
    TableDefinition, WriteTransaction,
};
use rustorium_circuits::Fr;
use rustorium_circuits::account::Account;
use rustorium_circuits::eddsa::PublicKey;
use rustorium_circuits::field::{from_bytes_le, to_bytes_le};
use rustorium_circuits::merkle::{
    AccountProof, CompressedPath, MAX_DEPTH, MerkleError, empty_hashes,
};

use super::StoreError;
use rustorium_accel::BatchHasher;

const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
const NODES: TableDefinition<(u8, u64, u64), [u8; 32]> = TableDefinition::new("nodes");
const ACCOUNTS: TableDefinition<(u64, u64), &[u8]> = TableDefinition::new("accounts");
const KEYS: TableDefinition<[u8; 32], u64> = TableDefinition::new("keys");
const ROOTS: TableDefinition<u64, [u8; 40]> = TableDefinition::new("roots");
const STALE: TableDefinition<(u64, u8, u8, u64, u64), ()> = TableDefinition::new("stale");

/// The SHA-256 of the genesis a store was created from (`Genesis::state_hash`), under "sha256".
const GENESIS: TableDefinition<&str, [u8; 32]> = TableDefinition::new("genesis");

const STALE_NODE: u8 = 0;
const STALE_ACCOUNT: u8 = 1;

/// Options of a store.
#[derive(Clone, Copy, Debug)]
pub struct StoreOptions {
    /// Versions kept readable (the latest included); 0 keeps every version.
    pub keep_versions: u64,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self { keep_versions: 256 }
    }
}

/// The state tree's persistent store.
pub struct StateStore {
    db: Database,
    depth: usize,
    chain_id: u64,
    empty: Vec<Fr>,
    hasher: Arc<dyn BatchHasher<Fr>>,
    options: StoreOptions,
    /// Whether opening the file needed redb's repair (the last process did not close it).
    recovered: bool,
    /// Versions at or above this are never pruned, whatever `keep_versions` says (the node holds
    /// the state its unproven blocks need). `u64::MAX`: no hold.
    hold_from: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for StateStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateStore")
            .field("depth", &self.depth)
            .field("chain_id", &self.chain_id)
            .field("hasher", &self.hasher.name())
            .finish()
    }
}

fn decode_fr(bytes: &[u8; 32]) -> Result<Fr, StoreError> {
    from_bytes_le(bytes).map_err(|e| StoreError::Corrupt(format!("node hash: {e}")))
}

fn decode_account(bytes: &[u8]) -> Result<Account, StoreError> {
    Account::from_bytes(bytes).map_err(|e| StoreError::Corrupt(format!("account: {e}")))
}

/// Latest entry of `(level, index)` at or below `version`: `(its version, value)`.
fn node_entry<T: ReadableTable<(u8, u64, u64), [u8; 32]>>(
    t: &T,
    level: u8,
    index: u64,
    version: u64,
) -> Result<Option<(u64, [u8; 32])>, StoreError> {
    let mut range = t.range((level, index, 0)..=(level, index, version))?;
    match range.next_back() {
        Some(entry) => {
            let (k, v) = entry?;
            Ok(Some((k.value().2, v.value())))
        }
        None => Ok(None),
    }
}

fn account_entry<T: ReadableTable<(u64, u64), &'static [u8]>>(
    t: &T,
    index: u64,
    version: u64,
) -> Result<Option<(u64, Account)>, StoreError> {
    let mut range = t.range((index, 0)..=(index, version))?;
    match range.next_back() {
        Some(entry) => {
            let (k, v) = entry?;
            Ok(Some((k.value().1, decode_account(v.value())?)))
        }
        None => Ok(None),
    }
}

impl StateStore {
    /// Creates a new store at `path` (which must not exist) for a tree of `depth` on `chain_id`.
    /// Version 0 is written by the first [`StateStore::commit`] (the genesis batch).
    pub fn create(
        path: &Path,
        depth: usize,
        chain_id: u64,
        hasher: Arc<dyn BatchHasher<Fr>>,
        options: StoreOptions,
    ) -> Result<Self, StoreError> {
        if depth == 0 || depth > MAX_DEPTH {
            return Err(MerkleError::Depth(depth).into());
        }
        if path.exists() {
            return Err(StoreError::AlreadyExists(path.display().to_string()));
        }
        let db = Database::create(path)?;
        let recovered = false;
        let txn = db.begin_write()?;
        {
            let mut meta = txn.open_table(META)?;
            meta.insert("depth", depth as u64)?;
            meta.insert("chain_id", chain_id)?;
            meta.insert("oldest", 0)?;
            // Create every table so that readers never meet a missing one.
            txn.open_table(NODES)?;
            txn.open_table(ACCOUNTS)?;
            txn.open_table(KEYS)?;
            txn.open_table(ROOTS)?;
            txn.open_table(STALE)?;
        }
        txn.commit()?;
        Ok(Self::with_db(
            db, depth, chain_id, hasher, options, recovered,
        ))
    }

    /// Creates a store at `path` holding `genesis` as version 0 (accounts at indices 0, 1, …) and
    /// the genesis's hash. The store is built under `<path>.init` and renamed into place only when
    /// complete, so a file at `path` is always an initialised store: a crash during creation
    /// leaves at most a `.init` file, which the next creation discards.
    pub fn create_from_genesis(
        path: &Path,
        genesis: &super::Genesis,
        hasher: Arc<dyn BatchHasher<Fr>>,
        options: StoreOptions,
    ) -> Result<Self, StoreError> {
        if path.exists() {
            return Err(StoreError::AlreadyExists(path.display().to_string()));
        }
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".init");
        let tmp = std::path::PathBuf::from(tmp);
        let io = |e: std::io::Error| StoreError::Io(format!("{}: {e}", tmp.display()));
        if tmp.exists() {
            std::fs::remove_file(&tmp).map_err(io)?;
        }
        {
            let store = Self::create(
                &tmp,
                genesis.depth,
                genesis.chain_id,
                hasher.clone(),
                options,
            )?;
            let changes: BTreeMap<u64, Account> =
                (0u64..).zip(genesis.accounts.iter().copied()).collect();
            let hash = genesis.state_hash();
            store.commit_with(0, &changes, |txn, _| {
                txn.open_table(GENESIS)?.insert("sha256", hash)?;
                Ok(())
            })?;
        }
        std::fs::File::open(&tmp)
            .and_then(|f| f.sync_all())
            .map_err(io)?;
        std::fs::rename(&tmp, path).map_err(io)?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::File::open(dir)
                .and_then(|f| f.sync_all())
                .map_err(io)?;
        }
        Self::open(path, hasher, options)
    }

    /// The hash of the genesis the store was created from, if it was created by
    /// [`StateStore::create_from_genesis`].
    pub fn genesis_hash(&self) -> Result<Option<[u8; 32]>, StoreError> {
        let txn = self.db.begin_read()?;
        match txn.open_table(GENESIS) {
            Ok(t) => Ok(t.get("sha256")?.map(|v| v.value())),
            Err(redb::TableError::TableDoesNotExist(_)) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Opens an existing store.
    pub fn open(
        path: &Path,
        hasher: Arc<dyn BatchHasher<Fr>>,
        options: StoreOptions,
    ) -> Result<Self, StoreError> {
        if !path.exists() {
            return Err(StoreError::Missing(path.display().to_string()));
        }
        // `open`, not `create`: a damaged file is refused, never re-initialised. The repair
        // callback only notes that redb had to repair (the previous process did not close it).
        let repaired = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = repaired.clone();
        let db = redb::Builder::new()
            .set_repair_callback(move |_| flag.store(true, std::sync::atomic::Ordering::Relaxed))
            .open(path)?;
        let recovered = repaired.load(std::sync::atomic::Ordering::Relaxed);
        let (depth, chain_id) = {
            let txn = db.begin_read()?;
            let meta = txn.open_table(META)?;
            let get = |k: &str| -> Result<u64, StoreError> {
                meta.get(k)?
                    .map(|v| v.value())
                    .ok_or_else(|| StoreError::Corrupt(format!("meta key {k} missing")))
            };
            (get("depth")? as usize, get("chain_id")?)
        };
        if depth == 0 || depth > MAX_DEPTH {
            return Err(StoreError::Corrupt(format!("stored depth {depth}")));
        }
        Ok(Self::with_db(
            db, depth, chain_id, hasher, options, recovered,
        ))
    }

    fn with_db(
        db: Database,
        depth: usize,
        chain_id: u64,
        hasher: Arc<dyn BatchHasher<Fr>>,
        options: StoreOptions,
        recovered: bool,
    ) -> Self {
        Self {
            db,
            depth,
            chain_id,
            empty: empty_hashes(depth),
            hasher,
            options,
            recovered,
            hold_from: std::sync::atomic::AtomicU64::new(u64::MAX),
        }
    }

    /// Never prunes `version` or any later one until the hold moves (it may only move up): the
    /// node calls this with its proven height, since the next block to prove re-executes on that
    /// version.
    pub fn hold_from(&self, version: u64) {
        use std::sync::atomic::Ordering::SeqCst;
        // u64::MAX means "no hold yet": the first hold replaces it, later ones only move it up.
        let _ = self.hold_from.fetch_update(SeqCst, SeqCst, |held| {
            Some(if held == u64::MAX {
                version
            } else {
                held.max(version)
            })
        });
    }

    /// Whether opening needed redb's repair: the previous process did not close the database
    /// (a crash, or a kill without graceful shutdown). Nothing committed is lost either way.
    pub fn recovered(&self) -> bool {
        self.recovered
    }

    /// Tree depth.
    pub fn depth(&self) -> usize {
        self.depth
    }

    /// Chain id recorded at creation.
    pub fn chain_id(&self) -> u64 {
        self.chain_id
    }

    /// Empty-subtree hashes `E[0..=depth]`.
    pub fn empty_hashes(&self) -> &[Fr] {
        &self.empty
    }

    /// The batch hasher in use.
    pub fn hasher(&self) -> &dyn BatchHasher<Fr> {
        self.hasher.as_ref()
    }

    /// A consistent read snapshot.
    pub fn reader(&self) -> Result<StateReader<'_>, StoreError> {
        let txn = self.db.begin_read()?;
        Ok(StateReader {
            nodes: txn.open_table(NODES)?,
            accounts: txn.open_table(ACCOUNTS)?,
            keys: txn.open_table(KEYS)?,
            roots: txn.open_table(ROOTS)?,
            oldest: txn
                .open_table(META)?
                .get("oldest")?
                .map_or(0, |v| v.value()),
            store: self,
            _txn: txn,
        })
    }

    /// Commits `changes` (index → new account) as `version`, which must be the latest version + 1
    /// (or 0 for the first batch), and returns the new root. All leaves are hashed in one batch,
    /// then each level's dirty parents in one batch, through the store's batch hasher; every touched
    /// node is computed once. Everything is written in one redb transaction: after a crash the
    /// store holds the previous version or this one, never a mix.
    pub fn commit(&self, version: u64, changes: &BTreeMap<u64, Account>) -> Result<Fr, StoreError> {
        self.commit_with(version, changes, |_, _| Ok(()))
    }

    /// [`StateStore::commit`], with `extra` writing further tables (blocks, receipts) in the same
    /// transaction once the new root is known: either everything is committed or nothing.
    pub fn commit_with(
        &self,
        version: u64,
        changes: &BTreeMap<u64, Account>,
        extra: impl FnOnce(&WriteTransaction, Fr) -> Result<(), StoreError>,
    ) -> Result<Fr, StoreError> {
        let txn = self.db.begin_write()?;
        let root = {
            let mut roots = txn.open_table(ROOTS)?;
            let latest = roots.last()?.map(|(k, v)| (k.value(), v.value()));
            let (expected, prev_root, mut next_index) = match latest {
                Some((v, r)) => (
                    v + 1,
                    decode_fr(r[..32].try_into().expect("32"))?,
                    u64::from_le_bytes(r[32..].try_into().expect("8")),
                ),
                None => (0, self.empty[self.depth], 0),
            };
            if version != expected {
                return Err(StoreError::VersionOrder {
                    expected,
                    got: version,
                });
            }
            self.check_indices(changes)?;
            let mut nodes = txn.open_table(NODES)?;
            let mut accounts = txn.open_table(ACCOUNTS)?;
            let mut keys = txn.open_table(KEYS)?;
            let mut stale = txn.open_table(STALE)?;

            // Leaves: write accounts and register new keys.
            for (&index, account) in changes {
                let prev = account_entry(&accounts, index, version.saturating_sub(1))?;
                if let Some((old_version, _)) = prev.filter(|_| version > 0) {
                    stale.insert((version, STALE_ACCOUNT, 0, index, old_version), ())?;
                } else {
                    let packed = account.pubkey.pack();
                    if let Some(existing) = keys.get(packed)?.map(|g| g.value())
                        && existing != index
                    {
                        return Err(StoreError::DuplicateKey { index, existing });
                    }
                    keys.insert(packed, index)?;
                    next_index = next_index.max(index + 1);
                }
                accounts.insert((index, version), account.to_bytes().as_slice())?;
            }
            // Nodes: each level's dirty nodes written (and what they replace marked stale), then
            // their parents hashed in one batch.
            let root = self.hash_up(
                changes,
                prev_root,
                &mut WriteLevels {
                    nodes: &mut nodes,
                    stale: &mut stale,
                    version,
                },
            )?;
            let mut record = [0u8; 40];
            record[..32].copy_from_slice(&to_bytes_le(&root));
            record[32..].copy_from_slice(&next_index.to_le_bytes());
            roots.insert(version, record)?;

            if self.options.keep_versions > 0 && version + 1 > self.options.keep_versions {
                let hold = self.hold_from.load(std::sync::atomic::Ordering::SeqCst);
                let oldest = (version + 1 - self.options.keep_versions).min(hold);
                let mut meta = txn.open_table(META)?;
                let current = meta.get("oldest")?.map_or(0, |v| v.value());
                if oldest > current {
                    prune(&mut stale, &mut nodes, &mut accounts, oldest)?;
                    meta.insert("oldest", oldest)?;
                }
            }
            root
        };
        extra(&txn, root)?;
        txn.commit()?;
        Ok(root)
    }

    /// The root `changes` would give on top of `base_version`, computed as [`StateStore::commit`]
    /// computes it (leaves in one batch, then each level's dirty parents in one batch, through the
    /// store's batch hasher) but read-only: a dry-run batch update. A block's planned root comes
    /// from here, not from recording every Merkle path (which only the prover needs).
    pub fn root_after(
        &self,
        base_version: u64,
        changes: &BTreeMap<u64, Account>,
    ) -> Result<Fr, StoreError> {
        let reader = self.reader()?;
        let prev_root = reader.root(base_version)?;
        self.check_indices(changes)?;
        self.hash_up(
            changes,
            prev_root,
            &mut ReadLevels {
                nodes: &reader.nodes,
                version: base_version,
            },
        )
    }

    /// Every index of `changes` is a leaf of this tree.
    fn check_indices(&self, changes: &BTreeMap<u64, Account>) -> Result<(), StoreError> {
        match changes
            .keys()
            .find(|&&index| self.depth < 64 && index >> self.depth != 0)
        {
            Some(&index) => Err(MerkleError::Index {
                index,
                depth: self.depth,
            }
            .into()),
            None => Ok(()),
        }
    }

    /// Hashes the leaves of `changes` and every dirty node above them, one batch per level;
    /// `io` supplies untouched siblings and sees each level's new nodes. Returns the root
    /// (`prev_root` when nothing changed).
    fn hash_up(
        &self,
        changes: &BTreeMap<u64, Account>,
        prev_root: Fr,
        io: &mut impl LevelIo,
    ) -> Result<Fr, StoreError> {
        let mut leaf_inputs = Vec::with_capacity(changes.len() * 4);
        for account in changes.values() {
            leaf_inputs.extend_from_slice(&account.leaf_inputs());
        }
        let mut hashes = vec![Fr::from(0u64); changes.len()];
        self.hasher.hash_batch(4, &leaf_inputs, &mut hashes)?;
        let mut level: Vec<(u64, Fr)> = changes.keys().copied().zip(hashes).collect();
        let mut root = prev_root;
        for l in 0..=self.depth {
            io.visit(l as u8, &level)?;
            if l == self.depth {
                if let Some(&(_, r)) = level.first() {
                    root = r;
                }
                break;
            }
            let mut parents = Vec::with_capacity(level.len());
            let mut inputs = Vec::with_capacity(level.len() * 2);
            let mut i = 0;
            while i < level.len() {
                let (index, value) = level[i];
                let parent = index >> 1;
                let sibling_index = index ^ 1;
                let pair_in_batch = i + 1 < level.len() && level[i + 1].0 == sibling_index;
                let sibling = if pair_in_batch {
                    level[i + 1].1
                } else {
                    io.sibling(l as u8, sibling_index)?.unwrap_or(self.empty[l])
                };
                if index & 1 == 0 {
                    inputs.extend_from_slice(&[value, sibling]);
                } else {
                    inputs.extend_from_slice(&[sibling, value]);
                }
                parents.push(parent);
                i += if pair_in_batch { 2 } else { 1 };
            }
            let mut out = vec![Fr::from(0u64); parents.len()];
            self.hasher.hash_batch(2, &inputs, &mut out)?;
            level = parents.into_iter().zip(out).collect();
        }
        Ok(root)
    }

    /// The underlying database, for tables that must commit together with the state (the chain).
    pub fn database(&self) -> &Database {
        &self.db
    }
}

/// Where [`StateStore::hash_up`] reads untouched siblings and what it does with new nodes.
trait LevelIo {
    /// The node at (`level`, `index`) as of the version being built on, if ever written.
    fn sibling(&mut self, level: u8, index: u64) -> Result<Option<Fr>, StoreError>;
    /// The new nodes of `level` (sorted by index), before their parents are hashed.
    fn visit(&mut self, level: u8, nodes: &[(u64, Fr)]) -> Result<(), StoreError>;
}

/// The node at (`level`, `index`) as of `version`, if ever written.
fn node_at<T: ReadableTable<(u8, u64, u64), [u8; 32]>>(
    t: &T,
    level: u8,
    index: u64,
    version: u64,
) -> Result<Option<Fr>, StoreError> {
    node_entry(t, level, index, version)?
        .map(|(_, bytes)| decode_fr(&bytes))
        .transpose()
}

/// A commit: new nodes are written at `version`, and the ones they replace marked stale.
struct WriteLevels<'a, 't> {
    nodes: &'a mut Table<'t, (u8, u64, u64), [u8; 32]>,
    stale: &'a mut Table<'t, (u64, u8, u8, u64, u64), ()>,
    version: u64,
}

impl LevelIo for WriteLevels<'_, '_> {
    fn sibling(&mut self, level: u8, index: u64) -> Result<Option<Fr>, StoreError> {
        node_at(self.nodes, level, index, self.version)
    }

    fn visit(&mut self, level: u8, nodes: &[(u64, Fr)]) -> Result<(), StoreError> {
        for &(index, value) in nodes {
            if let Some((old_version, _)) = node_entry(self.nodes, level, index, self.version)?
                && old_version < self.version
            {
                self.stale
                    .insert((self.version, STALE_NODE, level, index, old_version), ())?;
            }
            self.nodes
                .insert((level, index, self.version), to_bytes_le(&value))?;
        }
        Ok(())
    }
}

/// A dry run: siblings read as of `version`, nothing written.
struct ReadLevels<'a> {
    nodes: &'a ReadOnlyTable<(u8, u64, u64), [u8; 32]>,
    version: u64,
}

impl LevelIo for ReadLevels<'_> {
    fn sibling(&mut self, level: u8, index: u64) -> Result<Option<Fr>, StoreError> {
        node_at(self.nodes, level, index, self.version)
    }

    fn visit(&mut self, _: u8, _: &[(u64, Fr)]) -> Result<(), StoreError> {
        Ok(())
    }
}

/// Deletes every entry superseded at a version `<= oldest`.
fn prune(
    stale: &mut Table<(u64, u8, u8, u64, u64), ()>,
    nodes: &mut Table<(u8, u64, u64), [u8; 32]>,
    accounts: &mut Table<(u64, u64), &[u8]>,
    oldest: u64,
) -> Result<(), StoreError> {
    let doomed: Vec<(u64, u8, u8, u64, u64)> = stale
        .range((0, 0, 0, 0, 0)..=(oldest, u8::MAX, u8::MAX, u64::MAX, u64::MAX))?
        .map(|e| e.map(|(k, _)| k.value()))
        .collect::<Result<_, _>>()?;
    for key in doomed {
        let (_, table, level, index, old_version) = key;
        if table == STALE_NODE {
            nodes.remove((level, index, old_version))?;
        } else {
            accounts.remove((index, old_version))?;
        }
        stale.remove(key)?;
    }
    Ok(())
}

/// A consistent snapshot of the store.
pub struct StateReader<'a> {
    nodes: ReadOnlyTable<(u8, u64, u64), [u8; 32]>,
    accounts: ReadOnlyTable<(u64, u64), &'static [u8]>,
    keys: ReadOnlyTable<[u8; 32], u64>,
    roots: ReadOnlyTable<u64, [u8; 40]>,
    oldest: u64,
    store: &'a StateStore,
    _txn: ReadTransaction,
}

impl StateReader<'_> {
    /// The latest committed version, `None` before genesis.
    pub fn latest_version(&self) -> Result<Option<u64>, StoreError> {
        Ok(self.roots.last()?.map(|(k, _)| k.value()))
    }

    /// The oldest version still readable.
    pub fn oldest_version(&self) -> u64 {
        self.oldest
    }

    fn check_version(&self, version: u64) -> Result<[u8; 40], StoreError> {
        if version < self.oldest {
            return Err(StoreError::VersionPruned {
                version,
                oldest: self.oldest,
            });
        }
        self.roots
            .get(version)?
            .map(|g| g.value())
            .ok_or(StoreError::UnknownVersion(version))
    }

    /// The root at `version`.
    pub fn root(&self, version: u64) -> Result<Fr, StoreError> {
        let r = self.check_version(version)?;
        decode_fr(r[..32].try_into().expect("32 bytes"))
    }

    /// The first never-used index at `version`.
    pub fn next_index(&self, version: u64) -> Result<u64, StoreError> {
        let r = self.check_version(version)?;
        Ok(u64::from_le_bytes(r[32..].try_into().expect("8 bytes")))
    }

    /// The account at `index` as of `version`.
    pub fn account(&self, index: u64, version: u64) -> Result<Option<Account>, StoreError> {
        self.check_version(version)?;
        Ok(account_entry(&self.accounts, index, version)?.map(|(_, a)| a))
    }

    /// The index holding `key` (in the latest version).
    pub fn index_of(&self, key: &PublicKey) -> Result<Option<u64>, StoreError> {
        Ok(self.keys.get(key.pack())?.map(|g| g.value()))
    }

    /// The index holding `key` as of `version` (a key registered later is absent).
    pub fn index_of_at(&self, key: &PublicKey, version: u64) -> Result<Option<u64>, StoreError> {
        match self.index_of(key)? {
            Some(i) if self.account(i, version)?.is_some() => Ok(Some(i)),
            _ => Ok(None),
        }
    }

    /// The node at `(level, index)` as of `version` (empty-subtree hash when never written).
    pub fn node(&self, level: usize, index: u64, version: u64) -> Result<Fr, StoreError> {
        match node_entry(&self.nodes, level as u8, index, version)? {
            Some((_, bytes)) => decode_fr(&bytes),
            None => Ok(self.store.empty[level]),
        }
    }

    /// Full sibling list of leaf `index` at `version`, leaf level first.
    pub fn siblings(&self, index: u64, version: u64) -> Result<Vec<Fr>, StoreError> {
        self.check_version(version)?;
        (0..self.store.depth)
            .map(|l| self.node(l, (index >> l) ^ 1, version))
            .collect()
    }

    /// Inclusion or exclusion proof of leaf `index` at `version`.
    pub fn proof(&self, index: u64, version: u64) -> Result<AccountProof, StoreError> {
        let depth = self.store.depth;
        if depth < 64 && index >> depth != 0 {
            return Err(MerkleError::Index { index, depth }.into());
        }
        let siblings = self.siblings(index, version)?;
        Ok(AccountProof {
            depth: depth as u8,
            index,
            account: self.account(index, version)?,
            path: CompressedPath::compress(&siblings, &self.store.empty),
        })
    }
}
