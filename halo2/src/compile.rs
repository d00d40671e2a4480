//! The R1CS compiled into PLONKish rows.
//!
//! Every R1CS constraint `⟨A,z⟩·⟨B,z⟩ = ⟨C,z⟩` becomes rows of one region:
//!
//! * a **linear-combination chain** computes `⟨L,z⟩` [`TERMS`] terms per row: the `lc_first`
//!   gate is `acc = q_c + Σ q_i·x_i` and `lc_next` is `acc = acc[prev] + Σ q_i·x_i`, with the
//!   coefficients `q_i` and the constant `q_c` (the terms on variable 0, the constant 1) in fixed
//!   columns;
//! * a **product row** (`mul` gate: `x_0·x_1 = x_2`) whose cells are copies of the three values:
//!   a variable's own cell when the combination is that variable alone, else the `acc` cell of its
//!   chain's last row;
//! * a constraint with a constant side (`k·⟨L,z⟩ = ⟨C,z⟩`, most of a circuit's linear
//!   constraints) is one chain of `k·L − C` whose last `acc` the `zero` gate sets to 0.
//!
//! Each constraint's rows are one region (halo2's `MockProver` checks cells region by region, in
//! time quadratic in a region's size). Each variable has one home cell (its first use); every other use is copy-constrained to it,
//! and the public variables' homes (the first rows) to the instance column. So an assignment
//! satisfies the rows exactly when the same assignment satisfies the R1CS: the halo2 proof is of
//! the same statement as the Groth16 one, with the same public inputs, and every witness change
//! that breaks one breaks the other (`tests/block_circuit.rs` checks both on every mutation).

use std::collections::BTreeMap;
use std::sync::Arc;

use halo2_proofs::circuit::{Cell, Layouter, Region, SimpleFloorPlanner, Value};
use halo2_proofs::plonk::{
    Advice, Circuit, Column, ConstraintSystem, Error, Fixed, Instance, Selector,
};
use halo2_proofs::poly::Rotation;
use halo2curves::bn256::Fr as H2Fr;
use halo2curves::ff::Field;
use rustorium_circuits::r1cs::R1cs;

use crate::field::to_halo2;

/// Terms of a linear combination per row.
pub const TERMS: usize = 10;

/// Where a product row's value comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Src {
    /// A variable alone (coefficient 1, no constant): its home cell.
    Var(u32),
    /// The `acc` of a chain's last row.
    Acc(u32),
}

#[derive(Clone, Debug, PartialEq)]
enum Row {
    /// Homes of public variables (no gate).
    Public(Vec<u32>),
    /// One row of a linear-combination chain.
    Lc {
        chain: bool,
        constant: H2Fr,
        terms: Vec<(H2Fr, u32)>,
        zero: bool,
    },
    /// `a·b = c`.
    Mul([Src; 3]),
}

/// The rows of a compiled R1CS: built once per circuit shape, they fix the circuit (its fixed
/// columns and copy constraints, so its verifying key) and drive every witness assignment.
#[derive(Debug, PartialEq)]
pub struct Plan {
    rows: Vec<Row>,
    /// Each region's rows `start..end` (the public rows, then one per constraint).
    regions: Vec<(u32, u32)>,
    num_variables: usize,
    num_public: usize,
    /// R1CS constraints compiled.
    pub num_constraints: usize,
}

/// A linear combination split into its constant and its variable terms (repeated variables merged,
/// zero coefficients dropped, in variable order).
fn split(lc: &[(rustorium_circuits::Fr, usize)]) -> (H2Fr, Vec<(H2Fr, u32)>) {
    let mut terms = BTreeMap::<u32, H2Fr>::new();
    for (c, v) in lc {
        *terms.entry(*v as u32).or_insert(H2Fr::ZERO) += to_halo2(c);
    }
    let constant = terms.remove(&0).unwrap_or(H2Fr::ZERO);
    let terms = terms
        .into_iter()
        .filter(|(_, c)| !bool::from(c.is_zero()))
        .map(|(v, c)| (c, v))
        .collect();
    (constant, terms)
}

impl Plan {
    /// Compiles `r1cs`.
    pub fn compile(r1cs: &R1cs) -> Self {
        let num_public = r1cs.num_inputs - 1;
        let mut rows: Vec<Row> = (1..=num_public as u32)
            .collect::<Vec<_>>()
            .chunks(TERMS)
            .map(|c| Row::Public(c.to_vec()))
            .collect();
        let mut regions = vec![(0, rows.len() as u32)];
        let [a, b, c] = &r1cs.matrices[..] else {
            panic!("an R1CS has three matrices");
        };
        for ((a, b), c) in a.iter().zip(b).zip(c) {
            let start = rows.len() as u32;
            let (a, b, c) = (split(a), split(b), split(c));
            if a.1.is_empty() || b.1.is_empty() {
                // k·⟨L,z⟩ − ⟨C,z⟩ = 0 as one chain.
                let (k, (l0, l)) = if a.1.is_empty() { (a.0, b) } else { (b.0, a) };
                let mut merged = BTreeMap::<u32, H2Fr>::new();
                for (coeff, v) in l {
                    *merged.entry(v).or_insert(H2Fr::ZERO) += k * coeff;
                }
                for (coeff, v) in c.1 {
                    *merged.entry(v).or_insert(H2Fr::ZERO) -= coeff;
                }
                let terms: Vec<_> = merged
                    .into_iter()
                    .filter(|(_, c)| !bool::from(c.is_zero()))
                    .map(|(v, c)| (c, v))
                    .collect();
                let constant = k * l0 - c.0;
                if terms.is_empty() && bool::from(constant.is_zero()) {
                    continue; // 0 = 0
                }
                Self::chain(&mut rows, constant, &terms, true);
                regions.push((start, rows.len() as u32));
                continue;
            } else {
                let mut src = |(constant, terms): (H2Fr, Vec<(H2Fr, u32)>)| {
                    if bool::from(constant.is_zero()) && terms.len() == 1 && terms[0].0 == H2Fr::ONE
                    {
                        Src::Var(terms[0].1)
                    } else {
                        Src::Acc(Self::chain(&mut rows, constant, &terms, false))
                    }
                };
                let srcs = [src(a), src(b), src(c)];
                rows.push(Row::Mul(srcs));
            }
            regions.push((start, rows.len() as u32));
        }
        Self {
            rows,
            regions,
            num_variables: r1cs.num_variables(),
            num_public,
            num_constraints: r1cs.num_constraints,
        }
    }

    /// Appends the rows of one chain; returns the index of its last row.
    fn chain(rows: &mut Vec<Row>, constant: H2Fr, terms: &[(H2Fr, u32)], zero: bool) -> u32 {
        let chunks: Vec<&[(H2Fr, u32)]> = if terms.is_empty() {
            vec![&[]]
        } else {
            terms.chunks(TERMS).collect()
        };
        let last = chunks.len() - 1;
        for (i, chunk) in chunks.into_iter().enumerate() {
            rows.push(Row::Lc {
                chain: i > 0,
                constant: if i == 0 { constant } else { H2Fr::ZERO },
                terms: chunk.to_vec(),
                zero: zero && i == last,
            });
        }
        (rows.len() - 1) as u32
    }

    /// Whether the full assignment `z` (`[1, inputs…, witness…]`) satisfies every gate of the
    /// rows, each cell holding the value the synthesizer assigns it (so every copy constraint
    /// holds). This is the compilation's own check, fast enough to run on every mutated witness;
    /// halo2's `MockProver` and real proofs check the encoding ([`crate::mock_satisfied`]).
    pub fn satisfied(&self, z: &[rustorium_circuits::Fr]) -> bool {
        if z.len() != self.num_variables {
            return false;
        }
        let z: Vec<H2Fr> = z.iter().map(to_halo2).collect();
        let mut accs = vec![H2Fr::ZERO; self.rows.len()];
        let mut prev = H2Fr::ZERO;
        for (i, row) in self.rows.iter().enumerate() {
            match row {
                Row::Public(_) => prev = H2Fr::ZERO,
                Row::Lc {
                    chain,
                    constant,
                    terms,
                    zero,
                } => {
                    let start = if *chain { prev } else { H2Fr::ZERO };
                    let acc = terms
                        .iter()
                        .fold(start + constant, |a, (c, v)| a + *c * z[*v as usize]);
                    if *zero && !bool::from(acc.is_zero()) {
                        return false;
                    }
                    accs[i] = acc;
                    prev = acc;
                }
                Row::Mul(srcs) => {
                    let [a, b, c] = srcs.map(|s| match s {
                        Src::Var(v) => z[v as usize],
                        Src::Acc(r) => accs[r as usize],
                    });
                    if a * b != c {
                        return false;
                    }
                    prev = H2Fr::ZERO;
                }
            }
        }
        true
    }

    /// Rows used.
    pub fn rows(&self) -> usize {
        self.rows.len()
    }

    /// Public inputs (the constant 1 not counted).
    pub fn num_public(&self) -> usize {
        self.num_public
    }

    /// The smallest `k` whose `2^k` rows hold the plan and halo2's blinding rows.
    pub fn k(&self) -> u32 {
        let mut cs = ConstraintSystem::<H2Fr>::default();
        R1csCircuit::configure(&mut cs);
        let needed = (self.rows.len() + cs.blinding_factors() + 1).max(cs.minimum_rows());
        needed.next_power_of_two().trailing_zeros()
    }
}

/// Columns and gates.
#[derive(Clone, Debug)]
pub struct Config {
    x: [Column<Advice>; TERMS],
    acc: Column<Advice>,
    q: [Column<Fixed>; TERMS],
    constant: Column<Fixed>,
    s_first: Selector,
    s_next: Selector,
    s_mul: Selector,
    s_zero: Selector,
    instance: Column<Instance>,
}

/// A compiled R1CS with (for proving) its full assignment `[1, inputs…, witness…]`.
#[derive(Clone, Debug)]
pub struct R1csCircuit {
    /// The rows.
    pub plan: Arc<Plan>,
    /// The assignment; `None` for key generation.
    pub assignment: Option<Arc<Vec<H2Fr>>>,
}

impl Circuit<H2Fr> for R1csCircuit {
    type Config = Config;
    type FloorPlanner = SimpleFloorPlanner;

    fn without_witnesses(&self) -> Self {
        Self {
            plan: self.plan.clone(),
            assignment: None,
        }
    }

    fn configure(meta: &mut ConstraintSystem<H2Fr>) -> Config {
        let x = [(); TERMS].map(|_| meta.advice_column());
        let acc = meta.advice_column();
        let q = [(); TERMS].map(|_| meta.fixed_column());
        let constant = meta.fixed_column();
        let instance = meta.instance_column();
        for c in x.iter().chain([&acc]) {
            meta.enable_equality(*c);
        }
        meta.enable_equality(instance);
        let (s_first, s_next) = (meta.selector(), meta.selector());
        let (s_mul, s_zero) = (meta.selector(), meta.selector());
        for (name, sel, first) in [("lc_first", s_first, true), ("lc_next", s_next, false)] {
            meta.create_gate(name, |m| {
                let s = m.query_selector(sel);
                let mut sum = m.query_fixed(constant);
                if !first {
                    sum = sum + m.query_advice(acc, Rotation::prev());
                }
                for i in 0..TERMS {
                    sum = sum + m.query_fixed(q[i]) * m.query_advice(x[i], Rotation::cur());
                }
                vec![s * (m.query_advice(acc, Rotation::cur()) - sum)]
            });
        }
        meta.create_gate("mul", |m| {
            let s = m.query_selector(s_mul);
            let [a, b, c] = [0, 1, 2].map(|i| m.query_advice(x[i], Rotation::cur()));
            vec![s * (a * b - c)]
        });
        meta.create_gate("zero", |m| {
            vec![m.query_selector(s_zero) * m.query_advice(acc, Rotation::cur())]
        });
        Config {
            x,
            acc,
            q,
            constant,
            s_first,
            s_next,
            s_mul,
            s_zero,
            instance,
        }
    }

    fn synthesize(&self, cfg: Config, mut layouter: impl Layouter<H2Fr>) -> Result<(), Error> {
        let plan = &self.plan;
        let value = |v: u32| match &self.assignment {
            Some(z) => Value::known(z[v as usize]),
            None => Value::unknown(),
        };
        let zero = Value::known(H2Fr::ZERO);
        // Shared by the regions: each variable's home cell, each chain's last `acc`. (The floor
        // planner runs a region twice, the first time to measure it, with the same cells: a home
        // found then is the cell itself the second time, a harmless self-copy.)
        let mut homes: Vec<Option<Cell>> = vec![None; plan.num_variables];
        let mut accs: Vec<Option<(Cell, Value<H2Fr>)>> = vec![None; plan.rows.len()];
        let mut publics = Vec::with_capacity(plan.num_public);
        for &(start, end) in &plan.regions {
            layouter.assign_region(
                || "constraint",
                |mut region| {
                    if start == 0 {
                        publics.clear();
                    }
                    let mut prev = zero;
                    for (off, r) in (start..end).enumerate() {
                        let row = &plan.rows[r as usize];
                        let mut link =
                            |region: &mut Region<'_, H2Fr>, v: u32, cell: Cell| match homes
                                [v as usize]
                            {
                                Some(home) => region.constrain_equal(home, cell),
                                None => {
                                    homes[v as usize] = Some(cell);
                                    Ok(())
                                }
                            };
                        match row {
                            Row::Public(vars) => {
                                for (i, col) in cfg.x.iter().enumerate() {
                                    let v = vars.get(i);
                                    let val = v.map_or(zero, |v| value(*v));
                                    let cell = region.assign_advice(|| "pub", *col, off, || val)?;
                                    if let Some(v) = v {
                                        link(&mut region, *v, cell.cell())?;
                                        publics.push(cell.cell());
                                    }
                                }
                                region.assign_advice(|| "acc", cfg.acc, off, || zero)?;
                            }
                            Row::Lc {
                                chain,
                                constant,
                                terms,
                                zero: is_zero,
                            } => {
                                let sel = if *chain { cfg.s_next } else { cfg.s_first };
                                sel.enable(&mut region, off)?;
                                if *is_zero {
                                    cfg.s_zero.enable(&mut region, off)?;
                                }
                                region.assign_fixed(
                                    || "c",
                                    cfg.constant,
                                    off,
                                    || Value::known(*constant),
                                )?;
                                let mut acc =
                                    if *chain { prev } else { zero } + Value::known(*constant);
                                for i in 0..TERMS {
                                    let (coeff, val) = match terms.get(i) {
                                        Some((c, v)) => (*c, value(*v)),
                                        None => (H2Fr::ZERO, zero),
                                    };
                                    region.assign_fixed(
                                        || "q",
                                        cfg.q[i],
                                        off,
                                        || Value::known(coeff),
                                    )?;
                                    let cell =
                                        region.assign_advice(|| "x", cfg.x[i], off, || val)?;
                                    if let Some((_, v)) = terms.get(i) {
                                        link(&mut region, *v, cell.cell())?;
                                    }
                                    acc = acc + val.map(|x| x * coeff);
                                }
                                let cell = region.assign_advice(|| "acc", cfg.acc, off, || acc)?;
                                accs[r as usize] = Some((cell.cell(), acc));
                                prev = acc;
                            }
                            Row::Mul(srcs) => {
                                cfg.s_mul.enable(&mut region, off)?;
                                for (i, src) in srcs.iter().enumerate() {
                                    let val = match src {
                                        Src::Var(v) => value(*v),
                                        Src::Acc(a) => accs[*a as usize].map_or(zero, |a| a.1),
                                    };
                                    let cell =
                                        region.assign_advice(|| "x", cfg.x[i], off, || val)?;
                                    match src {
                                        Src::Var(v) => link(&mut region, *v, cell.cell())?,
                                        Src::Acc(a) => {
                                            let (home, _) =
                                                accs[*a as usize].ok_or(Error::Synthesis)?;
                                            region.constrain_equal(home, cell.cell())?;
                                        }
                                    }
                                }
                                region.assign_advice(|| "acc", cfg.acc, off, || zero)?;
                            }
                        }
                    }
                    Ok(())
                },
            )?;
        }
        for (i, cell) in publics.into_iter().enumerate() {
            layouter.constrain_instance(cell, cfg.instance, i)?;
        }
        Ok(())
    }
}
