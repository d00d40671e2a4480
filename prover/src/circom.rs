//! circom's binary formats, as snarkjs reads them: `.r1cs` (a constraint system) and `.wtns` (a
//! witness), so that the circom/snarkjs tools (and the ceremony of issue 19) work on our circuit.
//! The layouts are in `docs/circuit.md`.
//!
//! Both are iden3 "binfiles": a 4-byte magic, a `u32` version, a `u32` section count, then
//! sections of `u32` type, `u64` size and content; integers little-endian, field elements as
//! `n8 = 32` bytes little-endian in standard (not Montgomery) form.
//!
//! **Wires.** circom numbers wires `0` (the constant 1), then public outputs, public inputs, private
//! inputs and internal signals. arkworks numbers variables the same way (the constant 1, the
//! instance, then the witness), so our variable `i` is wire `i`; our public inputs are circom's
//! public inputs (no outputs, no separate private inputs), and every wire is its own label.
//!
//! **Linear combinations** are written with each wire once (snarkjs keeps the last coefficient of a
//! repeated wire) and without zero coefficients.
//!
//! Readers refuse, with a [`CircomError`], a wrong magic or version, a missing or repeated
//! section, a prime other than BN254's scalar field, a non-canonical field element, a wire out of
//! range, and a truncated or oversized file; they never panic on input.

use std::collections::BTreeMap;
use std::io::Write;

use ark_ff::{BigInteger, PrimeField, Zero};
use rustorium_circuits::Fr;

use crate::CircuitMatrices;

/// Why a circom file could not be read (or written).
#[derive(Debug, thiserror::Error)]
pub enum CircomError {
    /// The first four bytes are not the format's magic (`r1cs` or `wtns`).
    #[error("not a .{0} file (bad magic)")]
    Magic(&'static str),
    /// A version this reader does not know.
    #[error(".{format} version {version} is not supported")]
    Version {
        /// `r1cs` or `wtns`.
        format: &'static str,
        /// The version in the file.
        version: u32,
    },
    /// The file ends inside a header, section or value.
    #[error("truncated file: {0}")]
    Truncated(&'static str),
    /// A section is missing, repeated, or its size disagrees with its content.
    #[error("bad section: {0}")]
    Section(String),
    /// The file's field is not BN254's scalar field (or its element size is not 32 bytes).
    #[error("the file's field is not BN254's scalar field")]
    Field,
    /// A field element at or above the modulus.
    #[error("non-canonical field element at byte {0}")]
    NonCanonical(usize),
    /// A wire index outside the file's wire count, or counts that disagree.
    #[error("inconsistent file: {0}")]
    Inconsistent(String),
    /// Writing failed.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
}

const N8: u32 = 32;
/// Readers refuse files above this size (a shape's `.r1cs` at depth 32 × 64 is ~300 MB).
pub const MAX_FILE: usize = 4 << 30;

fn field_bytes(x: &Fr) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(&x.into_bigint().to_bytes_le());
    out
}

fn modulus_bytes() -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(&Fr::MODULUS.to_bytes_le());
    out
}

/// Writes a binfile: magic, version, then each `(type, content)` section.
pub(crate) fn write_binfile(
    out: &mut impl Write,
    magic: &[u8; 4],
    version: u32,
    sections: &[(u32, Vec<u8>)],
) -> std::io::Result<()> {
    out.write_all(magic)?;
    out.write_all(&version.to_le_bytes())?;
    out.write_all(&(sections.len() as u32).to_le_bytes())?;
    for (kind, body) in sections {
        out.write_all(&kind.to_le_bytes())?;
        out.write_all(&(body.len() as u64).to_le_bytes())?;
        out.write_all(body)?;
    }
    Ok(())
}

/// A linear combination as circom stores it: wires ascending, each once, no zero coefficient.
pub(crate) fn merged(row: &[(Fr, usize)]) -> BTreeMap<usize, Fr> {
    let mut lc = BTreeMap::new();
    for &(c, i) in row {
        *lc.entry(i).or_insert_with(Fr::zero) += c;
    }
    lc.retain(|_, c| !c.is_zero());
    lc
}

/// Writes `m` as a circom `.r1cs` (version 1: header, constraints, wire-to-label map).
pub fn write_r1cs(m: &CircuitMatrices, out: &mut impl Write) -> Result<(), CircomError> {
    let wires = m.num_inputs + m.num_witness;
    let too_big = |what: &str| CircomError::Inconsistent(format!("{what} above 2^32"));
    let wires32 = u32::try_from(wires).map_err(|_| too_big("wires"))?;
    let constraints32 = u32::try_from(m.num_constraints).map_err(|_| too_big("constraints"))?;
    let mut header = Vec::with_capacity(64);
    header.extend_from_slice(&N8.to_le_bytes());
    header.extend_from_slice(&modulus_bytes());
    header.extend_from_slice(&wires32.to_le_bytes());
    header.extend_from_slice(&0u32.to_le_bytes()); // public outputs
    header.extend_from_slice(&((m.num_inputs - 1) as u32).to_le_bytes()); // public inputs
    header.extend_from_slice(&0u32.to_le_bytes()); // private inputs
    header.extend_from_slice(&(wires as u64).to_le_bytes()); // labels
    header.extend_from_slice(&constraints32.to_le_bytes());
    let mut body = Vec::new();
    for k in 0..m.num_constraints {
        for matrix in &m.matrices {
            let lc = merged(&matrix[k]);
            body.extend_from_slice(&(lc.len() as u32).to_le_bytes());
            for (wire, c) in lc {
                body.extend_from_slice(&(wire as u32).to_le_bytes());
                body.extend_from_slice(&field_bytes(&c));
            }
        }
    }
    let map: Vec<u8> = (0..wires as u64).flat_map(u64::to_le_bytes).collect();
    write_binfile(out, b"r1cs", 1, &[(1, header), (2, body), (3, map)])?;
    Ok(())
}

/// Writes a full assignment `[1, inputs…, witness…]` as a circom `.wtns` (version 2).
pub fn write_wtns(assignment: &[Fr], out: &mut impl Write) -> Result<(), CircomError> {
    let n = u32::try_from(assignment.len())
        .map_err(|_| CircomError::Inconsistent("witness above 2^32 values".into()))?;
    let mut header = Vec::with_capacity(40);
    header.extend_from_slice(&N8.to_le_bytes());
    header.extend_from_slice(&modulus_bytes());
    header.extend_from_slice(&n.to_le_bytes());
    let body: Vec<u8> = assignment.iter().flat_map(field_bytes).collect();
    write_binfile(out, b"wtns", 2, &[(1, header), (2, body)])?;
    Ok(())
}

/// A bounds-checked reader over a file's bytes.
pub(crate) struct Cursor<'a> {
    pub(crate) data: &'a [u8],
    pub(crate) pos: usize,
    pub(crate) base: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], CircomError> {
        let end = self
            .pos
            .checked_add(n)
            .ok_or(CircomError::Truncated(what))?;
        let s = self
            .data
            .get(self.pos..end)
            .ok_or(CircomError::Truncated(what))?;
        self.pos = end;
        Ok(s)
    }
    pub(crate) fn u32(&mut self, what: &'static str) -> Result<u32, CircomError> {
        let b = self.take(4, what)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    pub(crate) fn u64(&mut self, what: &'static str) -> Result<u64, CircomError> {
        let b = self.take(8, what)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }
    pub(crate) fn field(&mut self, what: &'static str) -> Result<Fr, CircomError> {
        let at = self.base + self.pos;
        let b = self.take(32, what)?;
        let x = Fr::from_le_bytes_mod_order(b);
        if field_bytes(&x) != b {
            return Err(CircomError::NonCanonical(at));
        }
        Ok(x)
    }
}

/// The sections of a binfile by type, after checking its magic and version.
pub(crate) fn read_binfile<'a>(
    data: &'a [u8],
    magic: &'static str,
    versions: std::ops::RangeInclusive<u32>,
) -> Result<BTreeMap<u32, (usize, &'a [u8])>, CircomError> {
    if data.len() > MAX_FILE {
        return Err(CircomError::Section(format!(
            "file of {} bytes is above the {MAX_FILE}-byte limit",
            data.len()
        )));
    }
    let mut c = Cursor {
        data,
        pos: 0,
        base: 0,
    };
    if c.take(4, "magic")? != magic.as_bytes() {
        return Err(CircomError::Magic(magic));
    }
    let version = c.u32("version")?;
    if !versions.contains(&version) {
        return Err(CircomError::Version {
            format: magic,
            version,
        });
    }
    let count = c.u32("section count")?;
    let mut sections = BTreeMap::new();
    for _ in 0..count {
        let kind = c.u32("section type")?;
        let size = usize::try_from(c.u64("section size")?)
            .map_err(|_| CircomError::Truncated("section"))?;
        let start = c.pos;
        let body = c.take(size, "section")?;
        if sections.insert(kind, (start, body)).is_some() {
            return Err(CircomError::Section(format!("section {kind} repeated")));
        }
    }
    if c.pos != data.len() {
        return Err(CircomError::Section("bytes after the last section".into()));
    }
    Ok(sections)
}

pub(crate) fn section<'a>(
    sections: &BTreeMap<u32, (usize, &'a [u8])>,
    kind: u32,
) -> Result<Cursor<'a>, CircomError> {
    let &(base, data) = sections
        .get(&kind)
        .ok_or_else(|| CircomError::Section(format!("section {kind} missing")))?;
    Ok(Cursor { data, pos: 0, base })
}

pub(crate) fn field_header(c: &mut Cursor<'_>) -> Result<(), CircomError> {
    if c.u32("field size")? != N8 || c.take(32, "prime")? != modulus_bytes() {
        return Err(CircomError::Field);
    }
    Ok(())
}

pub(crate) fn finished(c: &Cursor<'_>, what: &str) -> Result<(), CircomError> {
    if c.pos != c.data.len() {
        return Err(CircomError::Section(format!(
            "{what}: {} bytes left over",
            c.data.len() - c.pos
        )));
    }
    Ok(())
}

/// Reads a `.wtns` (versions 1 and 2) into the full assignment `[1, inputs…, witness…]`.
pub fn read_wtns(data: &[u8]) -> Result<Vec<Fr>, CircomError> {
    let sections = read_binfile(data, "wtns", 1..=2)?;
    let mut h = section(&sections, 1)?;
    field_header(&mut h)?;
    let n = h.u32("witness count")? as usize;
    finished(&h, "wtns header")?;
    let mut w = section(&sections, 2)?;
    if w.data.len() != n * 32 {
        return Err(CircomError::Inconsistent(format!(
            "{n} values declared, {} bytes of witness",
            w.data.len()
        )));
    }
    (0..n).map(|_| w.field("witness value")).collect()
}

/// Reads a `.r1cs` (version 1, no custom gates) into matrices; public outputs count as public
/// inputs (they follow the constant 1 in both numberings).
pub fn read_r1cs(data: &[u8]) -> Result<CircuitMatrices, CircomError> {
    let sections = read_binfile(data, "r1cs", 1..=1)?;
    if sections.contains_key(&4) || sections.contains_key(&5) {
        return Err(CircomError::Section(
            "custom gates are not supported".into(),
        ));
    }
    let mut h = section(&sections, 1)?;
    field_header(&mut h)?;
    let wires = h.u32("wires")? as usize;
    let outputs = h.u32("outputs")? as usize;
    let public = h.u32("public inputs")? as usize;
    let _private = h.u32("private inputs")?;
    let _labels = h.u64("labels")?;
    let constraints = h.u32("constraints")? as usize;
    finished(&h, "r1cs header")?;
    let num_inputs = 1 + outputs + public;
    if wires < num_inputs {
        return Err(CircomError::Inconsistent(format!(
            "{wires} wires for {num_inputs} public values"
        )));
    }
    let mut c = section(&sections, 2)?;
    let mut matrices = vec![Vec::new(), Vec::new(), Vec::new()];
    for _ in 0..constraints {
        for m in matrices.iter_mut() {
            let terms = c.u32("linear combination")? as usize;
            // Each term is 36 bytes: refuse counts the section cannot hold before allocating.
            if terms > (c.data.len() - c.pos) / 36 {
                return Err(CircomError::Truncated("linear combination"));
            }
            let mut row = Vec::with_capacity(terms);
            for _ in 0..terms {
                let wire = c.u32("wire")? as usize;
                if wire >= wires {
                    return Err(CircomError::Inconsistent(format!("wire {wire} of {wires}")));
                }
                row.push((c.field("coefficient")?, wire));
            }
            m.push(row);
        }
    }
    finished(&c, "constraints")?;
    Ok(CircuitMatrices {
        matrices,
        num_inputs,
        num_witness: wires - num_inputs,
        num_constraints: constraints,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> CircuitMatrices {
        // x·x = y with y public: wires [1, y, x]; a repeated wire and a zero term to merge.
        let one = Fr::from(1u64);
        CircuitMatrices {
            matrices: vec![
                vec![vec![(one, 2), (one, 2), (-one, 2)]],
                vec![vec![(one, 2), (Fr::zero(), 0)]],
                vec![vec![(one, 1)]],
            ],
            num_inputs: 2,
            num_witness: 1,
            num_constraints: 1,
        }
    }

    #[test]
    fn round_trips_and_merges_repeated_wires() {
        let mut r1cs = Vec::new();
        write_r1cs(&tiny(), &mut r1cs).expect("write");
        let back = read_r1cs(&r1cs).expect("read");
        assert_eq!(back.num_inputs, 2);
        assert_eq!(back.num_witness, 1);
        assert_eq!(back.matrices[0], vec![vec![(Fr::from(1u64), 2)]]);
        assert_eq!(back.matrices[1], vec![vec![(Fr::from(1u64), 2)]]);
        let z = vec![Fr::from(1u64), Fr::from(9u64), Fr::from(3u64)];
        let mut wtns = Vec::new();
        write_wtns(&z, &mut wtns).expect("write");
        assert_eq!(read_wtns(&wtns).expect("read"), z);
    }

    #[test]
    fn malformed_files_are_refused() {
        let mut wtns = Vec::new();
        write_wtns(&[Fr::from(1u64), Fr::from(2u64)], &mut wtns).expect("write");
        let mut bad = wtns.clone();
        bad[0] = b'x';
        assert!(matches!(read_wtns(&bad), Err(CircomError::Magic("wtns"))));
        for cut in [3, 11, 20, wtns.len() - 1] {
            assert!(read_wtns(&wtns[..cut]).is_err(), "cut at {cut}");
        }
        // The last value set to the modulus: non-canonical.
        let mut bad = wtns.clone();
        let at = bad.len() - 32;
        bad[at..].copy_from_slice(&modulus_bytes());
        assert!(matches!(read_wtns(&bad), Err(CircomError::NonCanonical(p)) if p == at));
        // Another prime.
        let mut bad = wtns.clone();
        bad[4 + 4 + 4 + 4 + 8 + 4] ^= 1;
        assert!(matches!(read_wtns(&bad), Err(CircomError::Field)));
        let mut longer = wtns.clone();
        longer.push(0);
        assert!(read_wtns(&longer).is_err());

        let mut r1cs = Vec::new();
        write_r1cs(&tiny(), &mut r1cs).expect("write");
        // Version 2 is unknown.
        let mut bad = r1cs.clone();
        bad[4] = 2;
        assert!(matches!(
            read_r1cs(&bad),
            Err(CircomError::Version { version: 2, .. })
        ));
        // A wire out of range: the first term's wire of the constraints section.
        let header_len = 4 + 8 + (4 + 32 + 4 * 4 + 8 + 4);
        let wire_at = 12 + header_len + 12 + 4;
        let mut bad = r1cs.clone();
        bad[wire_at] = 7;
        assert!(matches!(read_r1cs(&bad), Err(CircomError::Inconsistent(_))));
        for cut in (0..r1cs.len()).step_by(7) {
            assert!(read_r1cs(&r1cs[..cut]).is_err(), "cut at {cut}");
        }
    }
}
