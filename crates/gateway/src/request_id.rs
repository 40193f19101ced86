//! Request ids in the shape HTTP API gives them: 16 base64 characters ending with one `=`
//! (`WSg1ihmdliAEJXA=`), sent as `apigw-requestid` on every response (aws-behavior.md
//! §1.3, §6.10) and used as `$context.requestId`.
//!
//! An id is 11 bytes in standard base64: 5 random bytes from the thread-local generator
//! and 6 bytes that are a process-wide counter scrambled by a bijection, so ids never
//! repeat within a process (for 2^48 requests) and still look random. Making one takes
//! no lock, no system call and no allocation.
//!
//! Known limits: the AWS format is observed, not documented; its real structure (time
//! based or not) is unknown, so only the shape is copied.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

use rand::Rng;

/// One request's id: 16 ASCII characters.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct RequestId([u8; 16]);

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Counts ids made by this process.
static COUNTER: AtomicU64 = AtomicU64::new(0);

impl RequestId {
    /// A new id, different from every other this process made.
    pub(crate) fn new() -> RequestId {
        let mut raw = [0u8; 11];
        let mut rng = rand::rng();
        rng.fill(&mut raw[..5]);

        // Multiplying by an odd constant is a bijection modulo 2^48, so distinct counts
        // give distinct tails; the constant only spreads the bits.
        // Counting from 1 keeps the first id's tail from being all zero bits (`AAAAAAAA=`).
        let count = COUNTER.fetch_add(1, Ordering::Relaxed).wrapping_add(1);
        let tail = count.wrapping_mul(0x9E37_79B9_7F4B) & 0xFFFF_FFFF_FFFF;
        raw[5..].copy_from_slice(&tail.to_be_bytes()[2..]);

        RequestId(encode(&raw))
    }

    /// The id as text.
    pub(crate) fn as_str(&self) -> &str {
        // Every byte comes from ALPHABET or is `=`, so this never fails.
        std::str::from_utf8(&self.0).unwrap_or("")
    }

    /// The id's bytes, for a header value.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

/// Standard base64 of 11 bytes: three full groups and a two-byte group padded with `=`.
fn encode(raw: &[u8; 11]) -> [u8; 16] {
    let mut out = [b'='; 16];
    for (i, group) in raw.chunks(3).enumerate() {
        let b = [
            group[0],
            *group.get(1).unwrap_or(&0),
            *group.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let chars = group.len() + 1;
        for (j, slot) in out[i * 4..i * 4 + chars].iter_mut().enumerate() {
            *slot = ALPHABET[((n >> (18 - 6 * j)) & 0x3F) as usize];
        }
    }
    out
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RequestId({})", self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn encodes_standard_base64() {
        // Checked against `printf 'hello world' | base64`.
        assert_eq!(&encode(b"hello world"), b"aGVsbG8gd29ybGQ=");
        assert_eq!(&encode(&[0xFF; 11]), b"//////////////8=");
    }

    #[test]
    fn ids_have_the_aws_shape_and_do_not_repeat() {
        let mut seen = HashSet::new();
        for _ in 0..10_000 {
            let id = RequestId::new();
            let s = id.as_str();
            assert_eq!(s.len(), 16, "{s}");
            assert!(s.ends_with('=') && !s.ends_with("=="), "{s}");
            assert!(s[..15].bytes().all(|c| ALPHABET.contains(&c)), "{s}");
            assert!(seen.insert(id), "repeated id {s}");
        }
    }
}
