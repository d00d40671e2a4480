//! A circuit's R1CS, built once per shape, and a circuit's full assignment. Both proof systems
//! start here: Groth16 proves the R1CS directly, halo2 compiles it into PLONKish rows
//! (`rustorium-halo2`), so the two prove exactly the same statement.

use ark_relations::gr1cs::{
    ConstraintSynthesizer, ConstraintSystem, OptimizationGoal, R1CS_PREDICATE_LABEL,
    SynthesisError, SynthesisMode,
};

use crate::Fr;

/// The R1CS matrices of a circuit shape. They do not depend on the witness, so they are built once
/// per shape (by [`R1cs::of`]) and every proof only computes its assignment: that skips
/// arkworks' linear-combination inlining, the bulk of synthesis time.
#[derive(Debug)]
pub struct R1cs {
    /// `A`, `B`, `C`: per constraint, `(coefficient, variable index)` pairs. Variable 0 is the
    /// constant 1, then the instance variables, then the witness variables.
    pub matrices: Vec<Vec<Vec<(Fr, usize)>>>,
    /// Instance variables, the constant 1 included.
    pub num_inputs: usize,
    /// Witness variables.
    pub num_witness: usize,
    /// Constraints.
    pub num_constraints: usize,
}

impl R1cs {
    /// Synthesizes `circuit` (values unused) and keeps its matrices.
    ///
    /// # Errors
    /// The circuit's own synthesis errors.
    pub fn of<C: ConstraintSynthesizer<Fr>>(circuit: C) -> Result<Self, SynthesisError> {
        Self::with_goal(circuit, OptimizationGoal::Constraints)
    }

    /// [`R1cs::of`] with arkworks' choice between fewer constraints (`Constraints`: every linear
    /// combination inlined, Groth16's cost) and fewer matrix entries (`Weight`: a combination
    /// used often becomes a variable, PLONKish rows' cost). The assignment must be made with the
    /// same goal ([`assignment_with_goal`]).
    ///
    /// # Errors
    /// The circuit's own synthesis errors.
    pub fn with_goal<C: ConstraintSynthesizer<Fr>>(
        circuit: C,
        goal: OptimizationGoal,
    ) -> Result<Self, SynthesisError> {
        let cs = ConstraintSystem::<Fr>::new_ref();
        cs.set_optimization_goal(goal);
        cs.set_mode(SynthesisMode::Setup);
        circuit.generate_constraints(cs.clone())?;
        cs.finalize();
        let matrices = cs
            .to_matrices()?
            .remove(R1CS_PREDICATE_LABEL)
            // An R1CS constraint system always has the R1CS predicate.
            .ok_or(SynthesisError::PredicateNotFound)?;
        Ok(Self {
            matrices,
            num_inputs: cs.num_instance_variables(),
            num_witness: cs.num_witness_variables(),
            num_constraints: cs.num_constraints(),
        })
    }

    /// All variables, the constant 1 included.
    pub fn num_variables(&self) -> usize {
        self.num_inputs + self.num_witness
    }

    /// Nonzero entries of `A`, `B` and `C` together.
    pub fn num_entries(&self) -> usize {
        self.matrices.iter().flatten().map(Vec::len).sum()
    }
}

/// The full assignment `[1, inputs…, witness…]` of `circuit` (the wire order of a `.wtns`), without
/// building matrices. It does not check the constraints.
///
/// # Errors
/// The circuit's own synthesis errors (e.g. a value that cannot be assigned).
pub fn assignment<C: ConstraintSynthesizer<Fr>>(circuit: C) -> Result<Vec<Fr>, SynthesisError> {
    assignment_with_goal(circuit, OptimizationGoal::Constraints)
}

/// [`assignment`] for the R1CS built with `goal` ([`R1cs::with_goal`]).
///
/// # Errors
/// The circuit's own synthesis errors.
pub fn assignment_with_goal<C: ConstraintSynthesizer<Fr>>(
    circuit: C,
    goal: OptimizationGoal,
) -> Result<Vec<Fr>, SynthesisError> {
    let cs = ConstraintSystem::<Fr>::new_ref();
    cs.set_optimization_goal(goal);
    cs.set_mode(SynthesisMode::Prove {
        construct_matrices: false,
        generate_lc_assignments: false,
    });
    circuit.generate_constraints(cs.clone())?;
    cs.finalize();
    Ok([cs.instance_assignment()?, cs.witness_assignment()?].concat())
}
