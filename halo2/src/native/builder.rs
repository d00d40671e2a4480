//! The trace builder: the chips of the native circuit, each appending rows of six advice cells
//! (`w0..w5`) and eight fixed cells (`f0..f7`) under one gate, with their values computed as they
//! are laid out.
//!
//! A row's [`Gate`] says which constraint its cells obey (the halo2 gates are in
//! [`super::circuit`], the same rules evaluated directly in [`Trace::satisfied`]):
//!
//! | gate | cells | constraint |
//! |---|---|---|
//! | `Arith` | `w0..w5`, `f0..f7` | `Σ fᵢ·wᵢ (i<6) + f6·w0·w1 + f7 = 0` |
//! | `Bool` | `w0..w5` | every cell is 0 or 1 |
//! | `Swap` | `b, p, q, out, other` | `b ∈ {0,1}`, `out = q + b·(p − q)`, `other = p + q − out` |
//! | `Ec` | `x1, y1, x2, y2, x3, y3` | twisted Edwards addition on Baby Jubjub (complete) |
//! | `Bits` | `b0..b4, acc` | `b ∈ {0,1}`, `acc[next] = 32·acc + 16·b0 + 8·b1 + 4·b2 + 2·b3 + b4` |
//! | `Range` | `w0 = z` | lookup: `z − 256·z[next] ∈ [0, 256)` |
//! | `Full(t)`, `Partial(t)` | `w0..w(t−1)` = state, `f` = round constants | next row = one Poseidon round |
//!
//! Values never steer the layout: the rows, fixed cells and copy constraints depend only on the
//! sequence of calls, which the block circuit makes the same way for every witness of a shape. So
//! the [`Layout`] of a blank witness is the circuit (the verifying key), and every witness of the
//! shape fills the same layout with its [`Trace::values`].

use std::collections::HashMap;

use ark_ec::twisted_edwards::TECurveConfig;
use ark_ff::{AdditiveGroup, BigInteger, Field, PrimeField};
use num_bigint::BigUint;
use rustorium_circuits::Fr;
use rustorium_circuits::babyjubjub::{BabyJubjub, Point};
use rustorium_circuits::poseidon::{FULL_ROUNDS, PoseidonField, PoseidonSpec};

/// Advice columns.
pub const W: usize = 6;
/// Fixed columns.
pub const F: usize = 8;
/// Poseidon widths the circuit uses (`t` = inputs + 1).
pub const WIDTHS: std::ops::RangeInclusive<usize> = 3..=6;
/// Bits checked per `Range` row (the lookup table holds `0..2^RANGE_BITS`).
pub const RANGE_BITS: usize = 8;
/// Largest region (rows) before the builder starts another (halo2's `MockProver` checks cells
/// region by region in time quadratic in a region's size).
const REGION_ROWS: usize = 64;

pub(crate) const EC_A: Fr = <BabyJubjub as TECurveConfig>::COEFF_A;
pub(crate) const EC_D: Fr = <BabyJubjub as TECurveConfig>::COEFF_D;

/// What a row's cells obey.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Gate {
    /// No constraint (a state or accumulator row read by the row above).
    None,
    /// The arithmetic gate.
    Arith,
    /// Six booleans.
    Bool,
    /// A conditional swap.
    Swap,
    /// A curve addition.
    Ec,
    /// Five bits of a Horner accumulation.
    Bits,
    /// Eight bits of a running-sum range check.
    Range,
    /// A full Poseidon round of width `t`.
    Full(u8),
    /// A partial Poseidon round of width `t`.
    Partial(u8),
}

impl Gate {
    /// Whether the gate reads the next row.
    pub fn reads_next(self) -> bool {
        matches!(
            self,
            Self::Bits | Self::Range | Self::Full(_) | Self::Partial(_)
        )
    }
}

/// A cell: row and advice column.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Pos {
    /// Row.
    pub row: u32,
    /// Advice column (`0..W`).
    pub col: u8,
}

/// A value in a cell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Var {
    /// Where it lives.
    pub pos: Pos,
    /// Its value.
    pub value: Fr,
}

/// A curve point of two cells.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PointVar {
    /// x.
    pub x: Var,
    /// y.
    pub y: Var,
}

/// The circuit of a shape: gates, fixed cells, copy constraints, regions, public cells.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Layout {
    /// Each row's gate.
    pub gates: Vec<Gate>,
    /// Each row's fixed cells.
    pub fixed: Vec<[Fr; F]>,
    /// Cells that must be equal.
    pub copies: Vec<(Pos, Pos)>,
    /// First row of each region.
    pub regions: Vec<u32>,
    /// The cells bound to the instance column, in order.
    pub public: Vec<Pos>,
}

impl Layout {
    /// Rows used.
    pub fn rows(&self) -> usize {
        self.gates.len()
    }
}

/// A laid-out circuit with its values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Trace {
    /// The circuit.
    pub layout: Layout,
    /// Each row's advice cells.
    pub values: Vec<[Fr; W]>,
}

/// A cell to fill: a copy of a value, or a new value.
#[derive(Clone, Copy, Debug)]
pub enum In {
    /// Copy-constrained to a value's cell.
    Copy(Var),
    /// A new value (the cell is unconstrained beyond the row's gate).
    New(Fr),
}

impl From<Var> for In {
    fn from(v: Var) -> Self {
        Self::Copy(v)
    }
}

impl In {
    fn value(self) -> Fr {
        match self {
            Self::Copy(v) => v.value,
            Self::New(x) => x,
        }
    }
}

const ZERO: Fr = Fr::ZERO;

/// Builds a [`Trace`].
#[derive(Debug, Default)]
pub struct Builder {
    layout: Layout,
    values: Vec<[Fr; W]>,
    constants: HashMap<Fr, Var>,
    region_start: usize,
}

impl Builder {
    /// An empty trace.
    pub fn new() -> Self {
        Self::default()
    }

    /// The finished trace.
    pub fn finish(self) -> Trace {
        Trace {
            layout: self.layout,
            values: self.values,
        }
    }

    /// Starts a new region at the next row, unless the current one is empty.
    pub fn region(&mut self) {
        let next = self.values.len();
        if next > self.region_start || self.layout.regions.is_empty() {
            self.layout.regions.push(next as u32);
            self.region_start = next;
        }
    }

    /// Appends a row; returns the cells as values.
    pub fn row(&mut self, gate: Gate, cells: [In; W], fixed: [Fr; F]) -> [Var; W] {
        let continues = self
            .layout
            .gates
            .last()
            .is_some_and(|g: &Gate| g.reads_next());
        if !continues && self.values.len() - self.region_start >= REGION_ROWS {
            self.region();
        }
        if self.layout.regions.is_empty() {
            self.region();
        }
        let row = self.values.len() as u32;
        let mut values = [ZERO; W];
        let mut out = [Var {
            pos: Pos { row, col: 0 },
            value: ZERO,
        }; W];
        for (col, cell) in cells.into_iter().enumerate() {
            let pos = Pos {
                row,
                col: col as u8,
            };
            if let In::Copy(v) = cell {
                self.layout.copies.push((v.pos, pos));
            }
            values[col] = cell.value();
            out[col] = Var {
                pos,
                value: values[col],
            };
        }
        self.layout.gates.push(gate);
        self.layout.fixed.push(fixed);
        self.values.push(values);
        out
    }

    /// Binds `v` to the next instance (public input) position.
    pub fn public(&mut self, v: Var) {
        self.layout.public.push(v.pos);
    }

    /// Requires `a = b` (a copy constraint).
    pub fn equal(&mut self, a: Var, b: Var) {
        self.layout.copies.push((a.pos, b.pos));
    }

    /// A new value in an arithmetic row with no constraint on it (all fixed cells zero): a witness
    /// the caller constrains afterwards.
    pub fn witness(&mut self, x: Fr) -> Var {
        self.row(Gate::Arith, cells([In::New(x)]), [ZERO; F])[0]
    }

    /// The constant `c` (one row the first time, shared afterwards).
    pub fn constant(&mut self, c: Fr) -> Var {
        if let Some(v) = self.constants.get(&c) {
            return *v;
        }
        let mut f = [ZERO; F];
        f[0] = Fr::ONE;
        f[7] = -c;
        let v = self.row(Gate::Arith, cells([In::New(c)]), f)[0];
        self.constants.insert(c, v);
        v
    }

    /// `Σ cᵢ·vᵢ + constant` (at most five terms) in a new cell.
    pub fn lin(&mut self, terms: &[(Fr, Var)], constant: Fr) -> Var {
        assert!(terms.len() < W, "at most {} terms", W - 1);
        let out = terms
            .iter()
            .fold(constant, |acc, (c, v)| acc + *c * v.value);
        let mut ins = [In::New(ZERO); W];
        let mut f = [ZERO; F];
        for (i, (c, v)) in terms.iter().enumerate() {
            ins[i] = In::Copy(*v);
            f[i] = *c;
        }
        ins[W - 1] = In::New(out);
        f[W - 1] = -Fr::ONE;
        f[7] = constant;
        self.row(Gate::Arith, ins, f)[W - 1]
    }

    /// `a + b`.
    pub fn add(&mut self, a: Var, b: Var) -> Var {
        self.lin(&[(Fr::ONE, a), (Fr::ONE, b)], ZERO)
    }

    /// `a − b`.
    pub fn sub(&mut self, a: Var, b: Var) -> Var {
        self.lin(&[(Fr::ONE, a), (-Fr::ONE, b)], ZERO)
    }

    /// `k·a·b + l·a + c` in a new cell.
    pub fn mul_lin(&mut self, a: Var, b: Var, k: Fr, l: Fr, c: Fr) -> Var {
        let out = k * a.value * b.value + l * a.value + c;
        let f = [l, ZERO, -Fr::ONE, ZERO, ZERO, ZERO, k, c];
        self.row(Gate::Arith, cells([a.into(), b.into(), In::New(out)]), f)[2]
    }

    /// `a·b`.
    pub fn mul(&mut self, a: Var, b: Var) -> Var {
        self.mul_lin(a, b, Fr::ONE, ZERO, ZERO)
    }

    /// Requires `a·b = 0`.
    pub fn mul_zero(&mut self, a: Var, b: Var) {
        let f = [ZERO, ZERO, ZERO, ZERO, ZERO, ZERO, Fr::ONE, ZERO];
        self.row(Gate::Arith, cells([a.into(), b.into()]), f);
    }

    /// Requires `a·b = c`.
    pub fn mul_equals(&mut self, a: Var, b: Var, c: Var) {
        let f = [ZERO, ZERO, -Fr::ONE, ZERO, ZERO, ZERO, Fr::ONE, ZERO];
        self.row(Gate::Arith, cells([a.into(), b.into(), c.into()]), f);
    }

    /// Requires `x = 0` unless `cond` (`x − cond·x = 0`).
    pub fn zero_unless(&mut self, cond: Var, x: Var) {
        let f = [ZERO, Fr::ONE, ZERO, ZERO, ZERO, ZERO, -Fr::ONE, ZERO];
        self.row(Gate::Arith, cells([cond.into(), x.into()]), f);
    }

    /// Requires `cond ⇒ a = b` (`cond·(a − b) = 0`).
    pub fn equal_if(&mut self, cond: Var, a: Var, b: Var) {
        let d = self.sub(a, b);
        self.mul_zero(cond, d);
    }

    /// A boolean.
    pub fn boolean(&mut self, b: bool) -> Var {
        let v = if b { Fr::ONE } else { ZERO };
        self.row(Gate::Bool, cells([In::New(v)]), [ZERO; F])[0]
    }

    /// `b ? p : q` (requires `b` boolean).
    pub fn select(&mut self, b: Var, p: Var, q: Var) -> Var {
        self.swap(b, p, q).0
    }

    /// `(b ? p : q, b ? q : p)` (requires `b` boolean).
    pub fn swap(&mut self, b: Var, p: Var, q: Var) -> (Var, Var) {
        let out = q.value + b.value * (p.value - q.value);
        let other = p.value + q.value - out;
        let [.., o, r, _] = self.row(
            Gate::Swap,
            cells([b.into(), p.into(), q.into(), In::New(out), In::New(other)]),
            [ZERO; F],
        );
        (o, r)
    }

    /// The `n` low bits of `v` (little-endian) and the value they make, `Σ bᵢ·2ⁱ`: a new cell
    /// that equals `v` only when `v < 2ⁿ`. The caller binds it.
    pub fn bits(&mut self, v: Fr, n: usize) -> (Vec<Var>, Var) {
        let big = v.into_bigint();
        let per = W - 1;
        let rows = n.div_ceil(per);
        let zero = self.constant(ZERO);
        self.region();
        // Most significant first; the top row is padded with zeros (copies of the constant).
        let mut bits = vec![None; n];
        let mut acc = ZERO;
        let mut acc_in = In::Copy(zero);
        for r in 0..rows {
            let mut ins = [In::New(ZERO); W];
            let mut chunk = ZERO;
            for (j, cell) in ins.iter_mut().take(per).enumerate() {
                let pos = (rows - r) * per - 1 - j; // bit index of this cell
                if pos >= n {
                    *cell = In::Copy(zero);
                } else {
                    let b = if big.get_bit(pos) { Fr::ONE } else { ZERO };
                    *cell = In::New(b);
                    chunk = chunk.double() + b;
                    continue;
                }
                chunk = chunk.double();
            }
            ins[per] = acc_in;
            let vars = self.row(Gate::Bits, ins, [ZERO; F]);
            for (j, v) in vars.iter().take(per).enumerate() {
                let pos = (rows - r) * per - 1 - j;
                if pos < n {
                    bits[pos] = Some(*v);
                }
            }
            acc = acc * Fr::from(1u64 << per) + chunk;
            acc_in = In::New(acc);
        }
        // The accumulator ends in the next row's w5.
        let mut last = [In::New(ZERO); W];
        last[per] = In::New(acc);
        let value = self.row(Gate::None, last, [ZERO; F])[per];
        self.region();
        (
            bits.into_iter()
                .map(|b| b.expect("every bit laid out"))
                .collect(),
            value,
        )
    }

    /// Requires `0 ≤ x < 2^64`: eight lookups of a running sum `z₀ = x`, `zᵢ = 256·zᵢ₊₁ + byteᵢ`,
    /// `z₈ = 0`.
    pub fn range64(&mut self, x: Var) {
        const LIMBS: usize = 64 / RANGE_BITS;
        self.region();
        let big = x.value.into_bigint();
        let mut z = x.value;
        let inv = Fr::from(1u64 << RANGE_BITS)
            .inverse()
            .expect("256 is invertible");
        for i in 0..LIMBS {
            let cell = if i == 0 { In::Copy(x) } else { In::New(z) };
            self.row(Gate::Range, cells([cell]), [ZERO; F]);
            let limb = (big.as_ref()[0] >> (RANGE_BITS * i)) & 0xff;
            z = (z - Fr::from(limb)) * inv;
        }
        // z₈ must be 0: an arithmetic row `w0 = 0`.
        let mut f = [ZERO; F];
        f[0] = Fr::ONE;
        self.row(Gate::Arith, cells([In::New(z)]), f);
        self.region();
    }

    /// Requires `Σ bᵢ·2ⁱ ≤ c` for little-endian bits: from the top bit, `eq` tracks "equal to `c`
    /// so far"; where `c`'s bit is 0 a set bit must not occur while `eq` holds.
    pub fn leq_const(&mut self, bits: &[Var], c: &BigUint) {
        let mut eq = self.constant(Fr::ONE);
        for (i, b) in bits.iter().enumerate().rev() {
            if c.bit(i as u64) {
                eq = self.mul(eq, *b);
            } else {
                self.mul_zero(eq, *b);
            }
        }
    }

    /// `Poseidon(inputs)` (circomlib's, `t = inputs + 1 ∈ 3..=6`): one row per round, then the
    /// final state; returns `state[0]`.
    pub fn poseidon(&mut self, inputs: &[Var]) -> Var {
        let t = inputs.len() + 1;
        assert!(WIDTHS.contains(&t), "Poseidon width {t} is not laid out");
        let spec = spec(t);
        let zero = self.constant(ZERO);
        self.region();
        let mut state: Vec<Fr> = std::iter::once(ZERO)
            .chain(inputs.iter().map(|v| v.value))
            .collect();
        let mut ins: Vec<In> = std::iter::once(In::Copy(zero))
            .chain(inputs.iter().map(|v| In::Copy(*v)))
            .collect();
        let half = FULL_ROUNDS / 2;
        for r in 0..FULL_ROUNDS + spec.partial_rounds {
            let full = r < half || r >= half + spec.partial_rounds;
            let mut f = [ZERO; F];
            f[..t].copy_from_slice(&spec.round_constants[r * t..(r + 1) * t]);
            let gate = if full {
                Gate::Full(t as u8)
            } else {
                Gate::Partial(t as u8)
            };
            self.row(gate, pad(&ins), f);
            round(&spec.mds, &f[..t], full, &mut state);
            ins = state.iter().map(|x| In::New(*x)).collect();
        }
        let out = self.row(Gate::None, pad(&ins), [ZERO; F])[0];
        self.region();
        out
    }

    /// A point from two new cells (no curve check).
    pub fn point(&mut self, p: Point) -> PointVar {
        let [x, y, ..] = self.row(Gate::Arith, cells([In::New(p.x), In::New(p.y)]), [ZERO; F]);
        PointVar { x, y }
    }

    /// A constant point.
    pub fn constant_point(&mut self, p: Point) -> PointVar {
        PointVar {
            x: self.constant(p.x),
            y: self.constant(p.y),
        }
    }

    /// `p + q` (complete twisted Edwards addition; also doubling).
    pub fn ec_add(&mut self, p: PointVar, q: PointVar) -> PointVar {
        let (x3, y3) = ec_add_values(p.x.value, p.y.value, q.x.value, q.y.value);
        let [.., x, y] = self.row(
            Gate::Ec,
            [
                p.x.into(),
                p.y.into(),
                q.x.into(),
                q.y.into(),
                In::New(x3),
                In::New(y3),
            ],
            [ZERO; F],
        );
        PointVar { x, y }
    }

    /// Requires `a·x² + y² = 1 + d·x²·y²`.
    pub fn on_curve(&mut self, p: PointVar) {
        let xx = self.mul(p.x, p.x);
        let yy = self.mul(p.y, p.y);
        let f = [EC_A, Fr::ONE, ZERO, ZERO, ZERO, ZERO, -EC_D, -Fr::ONE];
        self.row(Gate::Arith, cells([xx.into(), yy.into()]), f);
    }

    /// `b ? p : O` for a boolean `b`: `(b·x, b·(y − 1) + 1)`.
    fn select_or_identity(&mut self, b: Var, p: PointVar) -> PointVar {
        PointVar {
            x: self.mul(b, p.x),
            y: self.mul_lin(b, p.y, Fr::ONE, -Fr::ONE, Fr::ONE),
        }
    }

    /// `[Σ bᵢ·2ⁱ]·p` by double-and-add from the top bit (bits must be boolean).
    pub fn scalar_mul(&mut self, bits: &[Var], p: PointVar) -> PointVar {
        let mut acc = self.constant_point(Point::new_unchecked(ZERO, Fr::ONE));
        for b in bits.iter().rev() {
            acc = self.ec_add(acc, acc);
            let q = self.select_or_identity(*b, p);
            acc = self.ec_add(acc, q);
        }
        acc
    }

    /// `[Σ bᵢ·2ⁱ]·base` for a constant base: adds `bᵢ·2ⁱ·base`, each a constant point selected by
    /// its bit in two arithmetic rows.
    pub fn fixed_base_mul(&mut self, bits: &[Var], base: Point) -> PointVar {
        let mut acc = self.constant_point(Point::new_unchecked(ZERO, Fr::ONE));
        let mut power = base;
        for b in bits {
            let x = self.mul_lin(*b, *b, ZERO, power.x, ZERO);
            let y = self.mul_lin(*b, *b, ZERO, power.y - Fr::ONE, Fr::ONE);
            acc = self.ec_add(acc, PointVar { x, y });
            let (dx, dy) = ec_add_values(power.x, power.y, power.x, power.y);
            power = Point::new_unchecked(dx, dy);
        }
        acc
    }
}

fn pad(ins: &[In]) -> [In; W] {
    let mut out = [In::New(ZERO); W];
    out[..ins.len()].copy_from_slice(ins);
    out
}

fn cells<const N: usize>(ins: [In; N]) -> [In; W] {
    pad(&ins)
}

/// The Poseidon instance of width `t`.
pub fn spec(t: usize) -> &'static PoseidonSpec<Fr> {
    Fr::poseidon_spec(t).expect("widths 3..=6 exist")
}

fn sbox(x: Fr) -> Fr {
    let x2 = x.square();
    x2.square() * x
}

/// One round on `state`: constants, S-boxes (all, or the first), the MDS matrix.
pub fn round(mds: &[Vec<Fr>], constants: &[Fr], full: bool, state: &mut [Fr]) {
    for (i, s) in state.iter_mut().enumerate() {
        *s += constants[i];
        if full || i == 0 {
            *s = sbox(*s);
        }
    }
    let next: Vec<Fr> = mds
        .iter()
        .map(|row| row.iter().zip(state.iter()).map(|(m, s)| *m * s).sum())
        .collect();
    state.copy_from_slice(&next);
}

/// `(x3, y3)` of `(x1, y1) + (x2, y2)`; 0 where a denominator is 0 (never for points on the curve).
pub fn ec_add_values(x1: Fr, y1: Fr, x2: Fr, y2: Fr) -> (Fr, Fr) {
    let tau = EC_D * x1 * x2 * y1 * y2;
    let x3 = (x1 * y2 + y1 * x2) * (Fr::ONE + tau).inverse().unwrap_or(ZERO);
    let y3 = (y1 * y2 - EC_A * x1 * x2) * (Fr::ONE - tau).inverse().unwrap_or(ZERO);
    (x3, y3)
}
