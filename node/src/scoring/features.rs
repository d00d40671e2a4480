//! The model's input features, defined once (docs/scoring.md; `scripts/train_scoring_model.py`
//! mirrors these formulas and the fixture test keeps both equal).

/// Features per transfer.
pub const FEATURES: usize = 7;

/// What the features are computed from: the transfer, its sender's committed account and the
/// node's mempool.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
pub struct RawFeatures {
    /// Sender's balance.
    pub balance: u64,
    /// Amount.
    pub amount: u64,
    /// Fee.
    pub fee: u64,
    /// Transfer nonce minus the account nonce.
    pub nonce_gap: u64,
    /// The account nonce (transfers the sender has made: an age proxy).
    pub sender_nonce: u64,
    /// Transfers of the sender already pending in the mempool.
    pub pending: u64,
    /// The transfer creates an account.
    pub new_recipient: bool,
}

/// The feature row: computed in f64, cast to f32 (as the training script does).
pub fn features(r: &RawFeatures) -> [f32; FEATURES] {
    let ratio = (r.amount as f64 / r.balance.max(1) as f64).clamp(0.0, 1.0);
    [
        ratio as f32,
        (r.amount as f64).ln_1p() as f32,
        (r.fee as f64).ln_1p() as f32,
        r.nonce_gap.min(1024) as f32,
        (r.sender_nonce as f64).ln_1p() as f32,
        r.pending.min(1024) as f32,
        if r.new_recipient { 1.0 } else { 0.0 },
    ]
}
