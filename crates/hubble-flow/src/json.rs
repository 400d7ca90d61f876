//! Lenient scalar decoders for protojson output.
//!
//! protojson writes 64-bit integers as JSON strings, accepts quoted numbers for every integer field on input,
//! writes enums by name and accepts (and, for values unknown to the writer, emits) enum numbers. These helpers
//! accept every such spelling without allocating, so the flow structs in [`crate::flow`] stay borrowed.
//!
//! serde's derive borrows only fields whose type is exactly `Cow<str>` or `&str`: an `Option<Cow<str>>` or a
//! `Vec<Cow<str>>` goes through the generic `Cow` impl, which always allocates. [`opt_str`], [`str_list`] and
//! [`list`] are the `deserialize_with` helpers that borrow every string the JSON does not escape (an escaped
//! string must be unescaped, so it is owned); a non-empty list is one `Vec`.

use crate::str_list::StrList;
use serde::de::{self, Deserializer, Visitor};
use std::borrow::Cow;
use std::fmt;

/// One JSON value's exact text, borrowed from the line and passed through unparsed (`egress_denied_by`,
/// `ingress_denied_by`). serde decodes it through serde_json's `&RawValue`, which validates the value and
/// borrows its text; the hand-written scanner ([`crate::scan`]) builds it from the span it skipped and
/// validated itself. `Debug` prints what `&RawValue`'s does.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct RawJson<'a>(&'a str);

impl<'a> RawJson<'a> {
    /// The value's text, exactly as in the input.
    pub fn get(self) -> &'a str {
        self.0
    }

    /// Wraps text the caller has validated as exactly one JSON value.
    pub(crate) fn from_validated(text: &'a str) -> Self {
        RawJson(text)
    }
}

impl fmt::Debug for RawJson<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("RawValue")
            .field(&format_args!("{}", self.0))
            .finish()
    }
}

impl<'de: 'a, 'a> serde::Deserialize<'de> for RawJson<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        <&'de serde_json::value::RawValue as serde::Deserialize<'de>>::deserialize(d)
            .map(|r| RawJson(r.get()))
    }
}

/// An enum value as it appeared in the JSON: a name (`"DROPPED"`) or a number (`2`).
///
/// Resolving a name to its number needs the enum's table (see [`crate::enums`]); an unknown name resolves to
/// `None` rather than failing the record, because a newer agent may emit names this build does not know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnumValue<'a> {
    /// The value was written by name.
    Name(Cow<'a, str>),
    /// The value was written as a number (protojson does this for values unknown to the writer).
    Number(i64),
}

impl<'a> EnumValue<'a> {
    /// The name as written, if it was written by name.
    pub fn as_name(&self) -> Option<&str> {
        match self {
            EnumValue::Name(n) => Some(n),
            EnumValue::Number(_) => None,
        }
    }
}

impl<'de: 'a, 'a> serde::Deserialize<'de> for EnumValue<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = EnumValue<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an enum name or number")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(EnumValue::Name(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(EnumValue::Name(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(EnumValue::Name(Cow::Owned(v)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(EnumValue::Number(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                i64::try_from(v)
                    .map(EnumValue::Number)
                    .map_err(|_| E::custom("enum number out of range"))
            }
        }
        d.deserialize_any(V)
    }
}

/// Visitor for an unsigned integer written as a JSON number or a decimal string.
struct U64Visitor;

impl<'de> Visitor<'de> for U64Visitor {
    type Value = Option<u64>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an unsigned integer (number or decimal string)")
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Some(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        u64::try_from(v)
            .map(Some)
            .map_err(|_| E::custom("negative value for an unsigned field"))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        if v.fract() == 0.0 && v >= 0.0 && v <= u64::MAX as f64 {
            Ok(Some(v as u64))
        } else {
            Err(E::custom("non-integral value for an integer field"))
        }
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        v.trim()
            .parse::<u64>()
            .map(Some)
            .map_err(|_| E::custom("invalid integer string"))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
}

/// `deserialize_with` for `Option<u64>` fields that may be numbers, strings or null.
pub fn opt_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    d.deserialize_any(U64Visitor)
}

/// `deserialize_with` for `Option<u32>` fields that may be numbers, strings or null.
pub fn opt_u32<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    match d.deserialize_any(U64Visitor)? {
        None => Ok(None),
        Some(v) => u32::try_from(v)
            .map(Some)
            .map_err(|_| de::Error::custom("value out of range for uint32")),
    }
}

/// `deserialize_with` for `u32` fields with a default of 0 (proto3 scalars omitted when zero).
pub fn u32_or_zero<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    opt_u32(d).map(|v| v.unwrap_or(0))
}

/// `deserialize_with` for repeated fields: `null` is the empty list.
pub fn vec_or_null<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

/// Visitor of one string: borrowed from the input unless the JSON escaped it.
struct CowStrVisitor;

impl<'de> Visitor<'de> for CowStrVisitor {
    type Value = Cow<'de, str>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string")
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v))
    }
}

/// A string as a seed, for list elements.
struct CowStrSeed;

impl<'de> de::DeserializeSeed<'de> for CowStrSeed {
    type Value = Cow<'de, str>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(CowStrVisitor)
    }
}

/// Deserializes one string, borrowed from the input unless the JSON escaped it.
pub fn cow_str<'de, D: Deserializer<'de>>(d: D) -> Result<Cow<'de, str>, D::Error> {
    d.deserialize_str(CowStrVisitor)
}

/// Visitor of an optional string (`null` is `None`).
struct OptStrVisitor;

impl<'de> Visitor<'de> for OptStrVisitor {
    type Value = Option<Cow<'de, str>>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string or null")
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(CowStrVisitor).map(Some)
    }
}

/// `deserialize_with` for `Option<Cow<str>>` fields: borrowed unless escaped, `null` is `None`.
pub fn opt_str<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Cow<'de, str>>, D::Error> {
    d.deserialize_option(OptStrVisitor)
}

/// Visitor of a list whose elements come from `seed` (`null` is the empty list).
struct ListVisitor<S> {
    seed: S,
    /// Capacity reserved before the first element (serde_json gives no length hint).
    expect: usize,
}

impl<'de, S> Visitor<'de> for ListVisitor<S>
where
    S: de::DeserializeSeed<'de> + Copy,
{
    type Value = Vec<S::Value>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list or null")
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Vec::new())
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Vec::new())
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
    fn visit_seq<Q: de::SeqAccess<'de>>(self, mut seq: Q) -> Result<Self::Value, Q::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(self.expect).min(64));
        while let Some(item) = seq.next_element_seed(self.seed)? {
            out.push(item);
        }
        Ok(out)
    }
}

/// Deserializes any `T` (a seed for [`list`]).
struct Plain<T>(std::marker::PhantomData<T>);

impl<T> Clone for Plain<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for Plain<T> {}

impl<'de, T: Deserialize<'de>> de::DeserializeSeed<'de> for Plain<T> {
    type Value = T;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<T, D::Error> {
        T::deserialize(d)
    }
}

impl Clone for CowStrSeed {
    fn clone(&self) -> Self {
        *self
    }
}
impl Copy for CowStrSeed {}

/// `deserialize_with` for lists of strings: each string borrowed unless escaped, `null` the empty list. Room
/// for 8 is reserved up front (endpoints carry 1–9 labels), so a list costs one allocation.
pub fn str_list<'de, D: Deserializer<'de>>(d: D) -> Result<StrList<'de>, D::Error> {
    d.deserialize_option(ListVisitor {
        seed: CowStrSeed,
        expect: 8,
    })
    .map(StrList::from)
}

/// `deserialize_with` for lists of structs, `null` the empty list.
pub fn list<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    d.deserialize_option(ListVisitor {
        seed: Plain::<T>(std::marker::PhantomData),
        expect: 1,
    })
}

use serde::Deserialize;

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct T<'a> {
        #[serde(default, deserialize_with = "opt_u64")]
        n: Option<u64>,
        #[serde(borrow)]
        e: Option<EnumValue<'a>>,
    }

    #[test]
    fn numbers_and_strings() {
        let t: T = serde_json::from_str(r#"{"n":"18446744073709551615","e":"DROPPED"}"#).unwrap();
        assert_eq!(t.n, Some(u64::MAX));
        assert_eq!(t.e, Some(EnumValue::Name(Cow::Borrowed("DROPPED"))));
        let t: T = serde_json::from_str(r#"{"n":7,"e":2}"#).unwrap();
        assert_eq!(t.n, Some(7));
        assert_eq!(t.e, Some(EnumValue::Number(2)));
        let t: T = serde_json::from_str(r#"{"n":null}"#).unwrap();
        assert_eq!(t.n, None);
        assert!(serde_json::from_str::<T>(r#"{"n":"x"}"#).is_err());
        assert!(serde_json::from_str::<T>(r#"{"n":-1}"#).is_err());
        assert!(serde_json::from_str::<T>(r#"{"e":{}}"#).is_err());
    }
}
