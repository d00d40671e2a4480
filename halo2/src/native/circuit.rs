//! The native circuit's columns and gates in halo2, and the same rules evaluated directly on a
//! [`Trace`] ([`Trace::check`]: fast enough for every mutated witness of the soundness tests;
//! halo2's `MockProver` and real proofs check the encoding against it).

use std::sync::Arc;

use ark_ff::{AdditiveGroup, Field, PrimeField};
use halo2_proofs::circuit::{Cell, Layouter, SimpleFloorPlanner, Value};
use halo2_proofs::plonk::{
    Advice, Circuit, Column, ConstraintSystem, Error, Expression, Fixed, Instance, Selector,
    TableColumn,
};
use halo2_proofs::poly::Rotation;
use halo2curves::bn256::Fr as H2Fr;
use halo2curves::ff::Field as _;
use rustorium_circuits::Fr;

use super::builder::{EC_A, EC_D, F, Gate, Layout, RANGE_BITS, Trace, W, WIDTHS, round, spec};
use crate::field::to_halo2;

/// Where a trace breaks a rule.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Violation {
    /// A row's gate does not hold.
    #[error("row {row}: {gate:?} gate fails")]
    Gate {
        /// The row.
        row: usize,
        /// Its gate.
        gate: Gate,
    },
    /// Two copy-constrained cells differ.
    #[error("copy constraint {0} fails")]
    Copy(usize),
    /// A public cell differs from its instance value.
    #[error("public input {0} differs")]
    Public(usize),
}

fn is_bool(x: Fr) -> bool {
    x == Fr::ZERO || x == Fr::ONE
}

impl Trace {
    /// Checks every gate, lookup, copy and public input directly.
    ///
    /// # Errors
    /// The first [`Violation`].
    pub fn check(&self, public: &[Fr]) -> Result<(), Violation> {
        let l = &self.layout;
        let v = &self.values;
        for (row, gate) in l.gates.iter().enumerate() {
            let w = &v[row];
            let f = &l.fixed[row];
            let next = v.get(row + 1);
            let ok = match gate {
                Gate::None => true,
                Gate::Arith => {
                    let lin: Fr = (0..W).map(|i| f[i] * w[i]).sum();
                    lin + f[6] * w[0] * w[1] + f[7] == Fr::ZERO
                }
                Gate::Bool => w.iter().all(|x| is_bool(*x)),
                Gate::Swap => {
                    is_bool(w[0])
                        && w[3] == w[2] + w[0] * (w[1] - w[2])
                        && w[4] == w[1] + w[2] - w[3]
                }
                Gate::Ec => {
                    let tau = EC_D * w[0] * w[1] * w[2] * w[3];
                    w[4] * (Fr::ONE + tau) == w[0] * w[3] + w[1] * w[2]
                        && w[5] * (Fr::ONE - tau) == w[1] * w[3] - EC_A * w[0] * w[2]
                }
                Gate::Bits => next.is_some_and(|n| {
                    let chunk = w[..W - 1].iter().fold(Fr::ZERO, |acc, b| acc.double() + b);
                    w[..W - 1].iter().all(|b| is_bool(*b))
                        && n[W - 1] == w[W - 1] * Fr::from(32u64) + chunk
                }),
                Gate::Range => next.is_some_and(|n| {
                    let limb = w[0] - n[0] * Fr::from(1u64 << RANGE_BITS);
                    let big = limb.into_bigint();
                    big.as_ref()[1..].iter().all(|x| *x == 0) && big.as_ref()[0] < (1 << RANGE_BITS)
                }),
                Gate::Full(t) | Gate::Partial(t) => next.is_some_and(|n| {
                    let t = *t as usize;
                    let mut state = w[..t].to_vec();
                    let full = matches!(gate, Gate::Full(_));
                    round(&spec(t).mds, &f[..t], full, &mut state);
                    state[..] == n[..t]
                }),
            };
            if !ok {
                return Err(Violation::Gate { row, gate: *gate });
            }
        }
        for (i, (a, b)) in l.copies.iter().enumerate() {
            if v[a.row as usize][a.col as usize] != v[b.row as usize][b.col as usize] {
                return Err(Violation::Copy(i));
            }
        }
        if public.len() != l.public.len() {
            return Err(Violation::Public(public.len().min(l.public.len())));
        }
        for (i, (p, x)) in l.public.iter().zip(public).enumerate() {
            if v[p.row as usize][p.col as usize] != *x {
                return Err(Violation::Public(i));
            }
        }
        Ok(())
    }
}

/// Columns, selectors and the lookup table.
#[derive(Clone, Debug)]
pub struct Config {
    w: [Column<Advice>; W],
    f: [Column<Fixed>; F],
    arith: Selector,
    boolean: Selector,
    swap: Selector,
    ec: Selector,
    bits: Selector,
    range: Selector,
    full: [Selector; 4],
    partial: [Selector; 4],
    table: TableColumn,
    instance: Column<Instance>,
}

/// The native block circuit: a shape's [`Layout`] and (for proving) a witness's values.
#[derive(Clone, Debug)]
pub struct NativeCircuit {
    /// The circuit.
    pub layout: Arc<Layout>,
    /// Each row's advice values; `None` for key generation.
    pub values: Option<Arc<Vec<[Fr; W]>>>,
}

fn c(x: Fr) -> Expression<H2Fr> {
    Expression::Constant(to_halo2(&x))
}

fn pow5(x: Expression<H2Fr>) -> Expression<H2Fr> {
    let x2 = x.clone() * x.clone();
    x2.clone() * x2 * x
}

impl Circuit<H2Fr> for NativeCircuit {
    type Config = Config;
    type FloorPlanner = SimpleFloorPlanner;

    fn without_witnesses(&self) -> Self {
        Self {
            layout: self.layout.clone(),
            values: None,
        }
    }

    fn configure(meta: &mut ConstraintSystem<H2Fr>) -> Config {
        let w = [(); W].map(|_| meta.advice_column());
        let f = [(); F].map(|_| meta.fixed_column());
        let instance = meta.instance_column();
        for col in w {
            meta.enable_equality(col);
        }
        meta.enable_equality(instance);
        let cfg = Config {
            w,
            f,
            arith: meta.selector(),
            boolean: meta.selector(),
            swap: meta.selector(),
            ec: meta.selector(),
            bits: meta.selector(),
            range: meta.complex_selector(),
            full: [(); 4].map(|_| meta.selector()),
            partial: [(); 4].map(|_| meta.selector()),
            table: meta.lookup_table_column(),
            instance,
        };
        let one = || Expression::Constant(H2Fr::ONE);
        meta.create_gate("arith", |m| {
            let s = m.query_selector(cfg.arith);
            let w = cfg.w.map(|c| m.query_advice(c, Rotation::cur()));
            let f = cfg.f.map(|c| m.query_fixed(c));
            let mut sum = f[6].clone() * w[0].clone() * w[1].clone() + f[7].clone();
            for i in 0..W {
                sum = sum + f[i].clone() * w[i].clone();
            }
            vec![s * sum]
        });
        meta.create_gate("bool", |m| {
            let s = m.query_selector(cfg.boolean);
            cfg.w
                .map(|col| {
                    let x = m.query_advice(col, Rotation::cur());
                    s.clone() * x.clone() * (one() - x)
                })
                .to_vec()
        });
        meta.create_gate("swap", |m| {
            let s = m.query_selector(cfg.swap);
            let [b, p, q, out, other, _] = cfg.w.map(|c| m.query_advice(c, Rotation::cur()));
            vec![
                s.clone() * b.clone() * (one() - b.clone()),
                s.clone() * (out.clone() - q.clone() - b * (p.clone() - q.clone())),
                s * (other - p - q + out),
            ]
        });
        meta.create_gate("ec_add", |m| {
            let s = m.query_selector(cfg.ec);
            let [x1, y1, x2, y2, x3, y3] = cfg.w.map(|c| m.query_advice(c, Rotation::cur()));
            let tau = c(EC_D) * x1.clone() * x2.clone() * y1.clone() * y2.clone();
            vec![
                s.clone()
                    * (x3 * (one() + tau.clone())
                        - x1.clone() * y2.clone()
                        - y1.clone() * x2.clone()),
                s * (y3 * (one() - tau) - y1 * y2 + c(EC_A) * x1 * x2),
            ]
        });
        meta.create_gate("bits", |m| {
            let s = m.query_selector(cfg.bits);
            let w = cfg.w.map(|c| m.query_advice(c, Rotation::cur()));
            let next = m.query_advice(cfg.w[W - 1], Rotation::next());
            let mut out: Vec<_> = w[..W - 1]
                .iter()
                .map(|b| s.clone() * b.clone() * (one() - b.clone()))
                .collect();
            let mut acc = w[W - 1].clone();
            for b in &w[..W - 1] {
                acc = acc * c(Fr::from(2u64)) + b.clone();
            }
            out.push(s * (next - acc));
            out
        });
        meta.lookup(|m| {
            let s = m.query_selector(cfg.range);
            let z = m.query_advice(cfg.w[0], Rotation::cur());
            let next = m.query_advice(cfg.w[0], Rotation::next());
            vec![(s * (z - next * c(Fr::from(1u64 << RANGE_BITS))), cfg.table)]
        });
        for t in WIDTHS {
            let mds = &spec(t).mds;
            for full in [true, false] {
                let sel = if full { cfg.full } else { cfg.partial }[t - 3];
                let name = if full {
                    "poseidon_full"
                } else {
                    "poseidon_partial"
                };
                meta.create_gate(name, |m| {
                    let s = m.query_selector(sel);
                    let sboxed: Vec<Expression<H2Fr>> = (0..t)
                        .map(|i| {
                            let x =
                                m.query_advice(cfg.w[i], Rotation::cur()) + m.query_fixed(cfg.f[i]);
                            if full || i == 0 { pow5(x) } else { x }
                        })
                        .collect();
                    (0..t)
                        .map(|i| {
                            let next = m.query_advice(cfg.w[i], Rotation::next());
                            let mixed = mds[i]
                                .iter()
                                .zip(&sboxed)
                                .fold(Expression::Constant(H2Fr::ZERO), |acc, (k, x)| {
                                    acc + c(*k) * x.clone()
                                });
                            s.clone() * (next - mixed)
                        })
                        .collect::<Vec<_>>()
                });
            }
        }
        cfg
    }

    fn synthesize(&self, cfg: Config, mut layouter: impl Layouter<H2Fr>) -> Result<(), Error> {
        layouter.assign_table(
            || "bytes",
            |mut table| {
                for i in 0..1usize << RANGE_BITS {
                    table.assign_cell(
                        || "byte",
                        cfg.table,
                        i,
                        || Value::known(H2Fr::from(i as u64)),
                    )?;
                }
                Ok(())
            },
        )?;
        let l = &self.layout;
        let rows = l.rows();
        let mut cells: Vec<Option<Cell>> = vec![None; rows * W];
        let ends: Vec<u32> = l.regions[1..]
            .iter()
            .copied()
            .chain([rows as u32])
            .collect();
        for (&start, &end) in l.regions.iter().zip(&ends) {
            layouter.assign_region(
                || "rows",
                |mut region| {
                    for row in start as usize..end as usize {
                        let off = row - start as usize;
                        let sel = match l.gates[row] {
                            Gate::None => None,
                            Gate::Arith => Some(cfg.arith),
                            Gate::Bool => Some(cfg.boolean),
                            Gate::Swap => Some(cfg.swap),
                            Gate::Ec => Some(cfg.ec),
                            Gate::Bits => Some(cfg.bits),
                            Gate::Range => Some(cfg.range),
                            Gate::Full(t) => Some(cfg.full[t as usize - 3]),
                            Gate::Partial(t) => Some(cfg.partial[t as usize - 3]),
                        };
                        if let Some(sel) = sel {
                            sel.enable(&mut region, off)?;
                        }
                        // Every fixed cell (MockProver requires the queried ones assigned).
                        for (i, x) in l.fixed[row].iter().enumerate() {
                            region.assign_fixed(
                                || "f",
                                cfg.f[i],
                                off,
                                || Value::known(to_halo2(x)),
                            )?;
                        }
                        for (i, col) in cfg.w.iter().enumerate() {
                            let value = match &self.values {
                                Some(v) => Value::known(to_halo2(&v[row][i])),
                                None => Value::unknown(),
                            };
                            let cell = region.assign_advice(|| "w", *col, off, || value)?;
                            cells[row * W + i] = Some(cell.cell());
                        }
                    }
                    Ok(())
                },
            )?;
        }
        let cell = |p: &super::builder::Pos| cells[p.row as usize * W + p.col as usize];
        layouter.assign_region(
            || "copies",
            |mut region| {
                for (a, b) in &l.copies {
                    region.constrain_equal(
                        cell(a).ok_or(Error::Synthesis)?,
                        cell(b).ok_or(Error::Synthesis)?,
                    )?;
                }
                Ok(())
            },
        )?;
        for (i, p) in l.public.iter().enumerate() {
            layouter.constrain_instance(cell(p).ok_or(Error::Synthesis)?, cfg.instance, i)?;
        }
        Ok(())
    }
}

/// The smallest `k` whose `2^k` rows hold `layout`, the byte table and halo2's blinding rows.
pub fn k_of(layout: &Layout) -> u32 {
    let mut cs = ConstraintSystem::<H2Fr>::default();
    NativeCircuit::configure(&mut cs);
    let needed =
        (layout.rows().max(1 << RANGE_BITS) + cs.blinding_factors() + 1).max(cs.minimum_rows());
    needed.next_power_of_two().trailing_zeros()
}
