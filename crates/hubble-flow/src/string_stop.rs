//! Where an unescaped run of JSON string text ends: the first `"`, `\` or control byte (below 0x20).
//!
//! The decoder's borrowed string reads ([`crate::scan`]) stop there (a closing quote ends the string; an escape
//! or a raw control byte sends the line to serde), and the binary's record encoder escapes exactly those bytes.
//! Both ask [`string_stop`], which looks at sixteen bytes per step through `wide`'s portable SIMD (SSE2 on
//! x86-64, NEON on aarch64, plain code elsewhere), so this crate still has no `unsafe`. Its answer is exact
//! (property test against a byte-by-byte search below).

use wide::u8x16;

/// Whether `b` ends an unescaped run.
#[inline(always)]
pub fn is_string_stop(b: u8) -> bool {
    b == b'"' || b == b'\\' || b < 0x20
}

/// One bit per byte of `chunk` (bit `k` for byte `k`) that is a stop.
#[inline(always)]
fn stops16(chunk: [u8; 16]) -> u32 {
    let v = u8x16::new(chunk);
    let quote = v.simd_eq(u8x16::splat(b'"'));
    let backslash = v.simd_eq(u8x16::splat(b'\\'));
    // v ≤ 0x1f exactly when max(v, 0x1f) is 0x1f.
    let control = v.max(u8x16::splat(0x1f)).simd_eq(u8x16::splat(0x1f));
    (quote | backslash | control).to_bitmask()
}

/// The offset of the first stop in `bytes` at or after `from`, if any.
///
/// Sixteen bytes per step; when fewer than sixteen are left, the slice's last sixteen are looked at once (with
/// the bytes before `from` or already looked at masked out), and the rest of a slice shorter than sixteen bytes
/// is looked at once, copied into sixteen bytes padded with spaces (the encoder's strings are mostly that short).
#[inline(always)]
pub fn string_stop(bytes: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while let Some(chunk) = bytes.get(i..).and_then(<[u8]>::first_chunk::<16>) {
        let stops = stops16(*chunk);
        if stops != 0 {
            return Some(i + stops.trailing_zeros() as usize);
        }
        i += 16;
    }
    if i >= bytes.len() {
        return None;
    }
    if let Some(window) = bytes.last_chunk::<16>() {
        // bytes.len() - 16 ≤ i < bytes.len(): shift out the window's bytes before `i`.
        let start = bytes.len() - 16;
        let stops = stops16(*window) >> (i - start);
        return (stops != 0).then(|| i + stops.trailing_zeros() as usize);
    }
    let rest = bytes.get(i..)?;
    let mut padded = [b' '; 16];
    padded.get_mut(..rest.len())?.copy_from_slice(rest);
    let stops = stops16(padded);
    (stops != 0).then(|| i + stops.trailing_zeros() as usize)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn naive(bytes: &[u8], from: usize) -> Option<usize> {
        bytes
            .iter()
            .enumerate()
            .skip(from)
            .find(|&(_, &b)| is_string_stop(b))
            .map(|(i, _)| i)
    }

    #[test]
    fn every_byte_value_at_every_position_of_every_short_length() {
        for len in 0..40usize {
            for pos in 0..len {
                for b in 0..=255u8 {
                    let mut v = vec![b'a'; len];
                    v[pos] = b;
                    for from in [0, pos.saturating_sub(1), pos, pos + 1] {
                        assert_eq!(
                            string_stop(&v, from),
                            naive(&v, from),
                            "byte {b:#x} at {pos} of {len}, from {from}"
                        );
                    }
                }
            }
        }
    }

    proptest! {
        #[test]
        fn finds_the_first_stop_like_a_byte_by_byte_search(
            bytes in proptest::collection::vec(
                prop_oneof![4 => 0x20u8..0x7f, 1 => Just(b'"'), 1 => Just(b'\\'), 1 => 0u8..0x20, 1 => 0x80u8..=0xff],
                0..80,
            ),
            from in 0usize..90,
        ) {
            prop_assert_eq!(string_stop(&bytes, from), naive(&bytes, from));
        }
    }
}
