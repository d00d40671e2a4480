//! Canonical encodings of field elements: decimal or `0x` hex text, and 32-byte little-endian.
//! Every parser rejects values at or above the modulus instead of reducing them, so one element has
//! exactly one encoding.

use ark_ff::{BigInteger, PrimeField};
use num_bigint::BigUint;
use thiserror::Error;

/// Errors from parsing a field element.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FieldError {
    /// The text is empty.
    #[error("empty field element")]
    Empty,
    /// The text is neither a decimal number nor `0x` followed by hex digits.
    #[error("not a decimal or 0x-hex number: {0:?}")]
    Syntax(String),
    /// The value is at or above the field modulus (not canonical).
    #[error("value is not below the field modulus (non-canonical): {0}")]
    NonCanonical(String),
    /// A byte encoding has the wrong length.
    #[error("expected {expected} bytes, got {got}")]
    Length {
        /// Required length.
        expected: usize,
        /// Length seen.
        got: usize,
    },
}

/// Parses a non-negative integer written in decimal or `0x`/`0X` hex.
pub fn parse_uint(text: &str) -> Result<BigUint, FieldError> {
    let t = text.trim();
    if t.is_empty() {
        return Err(FieldError::Empty);
    }
    let parsed = if let Some(hex) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        if hex.is_empty() || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            None
        } else {
            BigUint::parse_bytes(hex.as_bytes(), 16)
        }
    } else if t.bytes().all(|b| b.is_ascii_digit()) {
        BigUint::parse_bytes(t.as_bytes(), 10)
    } else {
        None
    };
    parsed.ok_or_else(|| FieldError::Syntax(t.to_string()))
}

/// Parses a canonical field element from decimal or `0x` hex text.
pub fn parse_field<F: PrimeField>(text: &str) -> Result<F, FieldError> {
    let value = parse_uint(text)?;
    let modulus: BigUint = F::MODULUS.into();
    if value >= modulus {
        return Err(FieldError::NonCanonical(text.trim().to_string()));
    }
    Ok(F::from(value))
}

/// The element in decimal.
pub fn to_decimal<F: PrimeField>(x: &F) -> String {
    let v: BigUint = x.into_bigint().into();
    v.to_str_radix(10)
}

/// The element as `0x` + 64 hex digits (big-endian).
pub fn to_hex<F: PrimeField>(x: &F) -> String {
    format!("0x{}", hex::encode(x.into_bigint().to_bytes_be()))
}

/// The element as 32 little-endian bytes.
pub fn to_bytes_le<F: PrimeField>(x: &F) -> [u8; 32] {
    let v = x.into_bigint().to_bytes_le();
    let mut out = [0u8; 32];
    out[..v.len()].copy_from_slice(&v);
    out
}

/// Reads a canonical element from 32 little-endian bytes.
pub fn from_bytes_le<F: PrimeField>(bytes: &[u8]) -> Result<F, FieldError> {
    if bytes.len() != 32 {
        return Err(FieldError::Length {
            expected: 32,
            got: bytes.len(),
        });
    }
    let value = BigUint::from_bytes_le(bytes);
    let modulus: BigUint = F::MODULUS.into();
    if value >= modulus {
        return Err(FieldError::NonCanonical(format!(
            "0x{}",
            hex::encode(bytes)
        )));
    }
    Ok(F::from(value))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_bn254::Fr;

    const P: &str = "21888242871839275222246405745257275088548364400416034343698204186575808495617";

    #[test]
    fn parses_decimal_and_hex_and_rejects_the_rest() {
        assert_eq!(parse_field::<Fr>("42"), Ok(Fr::from(42u64)));
        assert_eq!(parse_field::<Fr>("0x2a"), Ok(Fr::from(42u64)));
        assert_eq!(parse_field::<Fr>("0X2A"), Ok(Fr::from(42u64)));
        assert_eq!(parse_field::<Fr>(""), Err(FieldError::Empty));
        assert!(matches!(
            parse_field::<Fr>("-1"),
            Err(FieldError::Syntax(_))
        ));
        assert!(matches!(
            parse_field::<Fr>("0x"),
            Err(FieldError::Syntax(_))
        ));
        assert!(matches!(
            parse_field::<Fr>("12a"),
            Err(FieldError::Syntax(_))
        ));
        assert!(matches!(
            parse_field::<Fr>(P),
            Err(FieldError::NonCanonical(_))
        ));
        let p_minus_1 = P.replace("617", "616");
        assert_eq!(parse_field::<Fr>(&p_minus_1), Ok(-Fr::from(1u64)));
    }

    #[test]
    fn bytes_round_trip_and_reject_the_modulus() {
        let x = -Fr::from(7u64);
        assert_eq!(from_bytes_le::<Fr>(&to_bytes_le(&x)), Ok(x));
        let p: BigUint = Fr::MODULUS.into();
        let mut bytes = p.to_bytes_le();
        bytes.resize(32, 0);
        assert!(matches!(
            from_bytes_le::<Fr>(&bytes),
            Err(FieldError::NonCanonical(_))
        ));
        assert!(matches!(
            from_bytes_le::<Fr>(&bytes[..31]),
            Err(FieldError::Length { .. })
        ));
        assert_eq!(parse_field::<Fr>(&to_hex(&x)), Ok(x));
        assert_eq!(parse_field::<Fr>(&to_decimal(&x)), Ok(x));
    }
}
