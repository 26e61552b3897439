//! Byte encodings of the store: term ids, index keys, dictionary entries and counters.
//!
//! Kept apart from the storage logic so that every byte layout lives in one place and is
//! tested on its own.

use oxrdf::{BlankNode, Literal, LiteralRef, NamedNode, Term, TermRef};
use siphasher::sip128::SipHasher13;

use super::error::StoreError;

/// A dictionary id. Ids start at 1; they are never reused while a term is in the dictionary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TermId(pub u64);

/// The largest id the key encoding can hold (61 bits).
pub const MAX_TERM_ID: u64 = (1 << 61) - 1;

/// Longest encoded id in bytes.
pub const MAX_ID_LEN: usize = 8;

/// Appends `id` in the store's prefix-free, order-preserving variable-length form: the top
/// three bits of the first byte give the number of bytes that follow (0 to 7), the rest is
/// the value big-endian. Ids below 32 take 1 byte, below 8,192 2, below 2,097,152 3, below
/// 536,870,912 4.
pub fn write_id(out: &mut Vec<u8>, id: TermId) {
    let value = id.0;
    debug_assert!(value <= MAX_TERM_ID);
    let mut extra = 0usize;
    while extra < 7 && value >= 1u64 << (5 + 8 * extra) {
        extra += 1;
    }
    let bytes = value.to_be_bytes();
    let first = (extra as u8) << 5 | bytes[7 - extra] & 0x1F;
    out.push(first);
    out.extend_from_slice(&bytes[8 - extra..]);
}

/// Reads one id written by [`write_id`] from the front of `bytes`; returns it and the rest.
///
/// # Errors
/// [`StoreError::Corrupt`] when `bytes` is too short.
pub fn read_id(bytes: &[u8]) -> Result<(TermId, &[u8]), StoreError> {
    let first = *bytes
        .first()
        .ok_or_else(|| StoreError::corrupt("an index key ends in the middle of a term id"))?;
    let extra = usize::from(first >> 5);
    if bytes.len() < 1 + extra {
        return Err(StoreError::corrupt(
            "an index key ends in the middle of a term id",
        ));
    }
    let mut value = u64::from(first & 0x1F);
    for byte in &bytes[1..=extra] {
        value = value << 8 | u64::from(*byte);
    }
    Ok((TermId(value), &bytes[1 + extra..]))
}

/// Reads exactly `N` ids making up a whole key.
///
/// # Errors
/// [`StoreError::Corrupt`] when the key holds fewer or more bytes.
pub fn read_ids<const N: usize>(mut key: &[u8]) -> Result<[TermId; N], StoreError> {
    let mut ids = [TermId(0); N];
    for id in &mut ids {
        let (value, rest) = read_id(key)?;
        *id = value;
        key = rest;
    }
    if key.is_empty() {
        Ok(ids)
    } else {
        Err(StoreError::corrupt(format!(
            "an index key holds {} bytes after its {N} term ids",
            key.len()
        )))
    }
}

/// The key of `ids`, in the given order.
#[must_use]
pub fn key_of(ids: &[TermId]) -> Vec<u8> {
    let mut key = Vec::with_capacity(ids.len() * 4);
    for id in ids {
        write_id(&mut key, *id);
    }
    key
}

/// A big-endian counter value.
#[must_use]
pub fn encode_count(value: u64) -> [u8; 8] {
    value.to_be_bytes()
}

/// Reads a counter written by [`encode_count`].
///
/// # Errors
/// [`StoreError::Corrupt`] naming `what` when the value is not 8 bytes.
pub fn decode_count(bytes: &[u8], what: &str) -> Result<u64, StoreError> {
    let array: [u8; 8] = bytes.try_into().map_err(|_| {
        StoreError::corrupt(format!(
            "the counter `{what}` holds {} bytes instead of 8",
            bytes.len()
        ))
    })?;
    Ok(u64::from_be_bytes(array))
}

/// Tags of dictionary entries.
mod tag {
    pub const IRI: u8 = 1;
    pub const BLANK: u8 = 2;
    pub const SIMPLE: u8 = 3;
    pub const LANG: u8 = 4;
    pub const DIR_LANG: u8 = 5;
    pub const TYPED: u8 = 6;
    pub const TRIPLE: u8 = 7;
}

/// A term as stored in the dictionary, with the ids of a triple term's parts already
/// resolved. Its [`EncodedTerm::bytes`] are the `id2term` value; their hash is the
/// `term2id` key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EncodedTerm {
    bytes: Vec<u8>,
}

/// The `term2id` key of an encoded term: its 128-bit keyed hash.
pub type TermHash = [u8; 16];

/// The keyed hash of dictionary entries: SipHash-1-3 with 128-bit output, keyed by a random
/// key each store draws when it is created. Without the key nobody can build two terms with
/// the same hash, and with 128 bits an accidental collision needs about 2^64 terms.
#[derive(Debug, Clone)]
pub struct TermHasher {
    sip: SipHasher13,
}

impl TermHasher {
    /// A hasher with a 16-byte key.
    #[must_use]
    pub fn new(key: [u8; 16]) -> Self {
        let (k0, k1) = key.split_at(8);
        let word = |bytes: &[u8]| {
            let mut array = [0; 8];
            array.copy_from_slice(bytes);
            u64::from_le_bytes(array)
        };
        Self {
            sip: SipHasher13::new_with_keys(word(k0), word(k1)),
        }
    }

    /// A new random key.
    #[must_use]
    pub fn random_key() -> [u8; 16] {
        use std::hash::{BuildHasher, Hasher};
        let mut key = [0; 16];
        for (index, half) in key.chunks_mut(8).enumerate() {
            // RandomState draws its keys from the operating system's generator.
            let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
            hasher.write_usize(index);
            half.copy_from_slice(&hasher.finish().to_le_bytes());
        }
        key
    }

    /// The hash of `bytes`.
    #[must_use]
    pub fn hash(&self, bytes: &[u8]) -> TermHash {
        self.sip.hash(bytes).as_bytes()
    }
}

impl EncodedTerm {
    /// Encodes a term that is not a triple term (`None` for a triple term: those go through
    /// [`EncodedTerm::triple`]).
    #[must_use]
    pub fn plain(term: TermRef<'_>) -> Option<Self> {
        let mut bytes = Vec::new();
        match term {
            TermRef::NamedNode(node) => {
                bytes.push(tag::IRI);
                bytes.extend_from_slice(node.as_str().as_bytes());
            }
            TermRef::BlankNode(node) => {
                bytes.push(tag::BLANK);
                bytes.extend_from_slice(node.as_str().as_bytes());
            }
            TermRef::Literal(literal) => encode_literal(literal, &mut bytes),
            TermRef::Triple(_) => return None,
        }
        Some(Self { bytes })
    }

    /// Encodes a triple term from the ids of its parts.
    #[must_use]
    pub fn triple(subject: TermId, predicate: TermId, object: TermId) -> Self {
        let mut bytes = vec![tag::TRIPLE];
        write_id(&mut bytes, subject);
        write_id(&mut bytes, predicate);
        write_id(&mut bytes, object);
        Self { bytes }
    }

    /// Wraps bytes read from the dictionary.
    #[must_use]
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        Self { bytes }
    }

    /// The stored form.
    #[must_use]
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The `term2id` key.
    #[must_use]
    pub fn hash(&self, hasher: &TermHasher) -> TermHash {
        hasher.hash(&self.bytes)
    }

    /// Decodes the entry; a triple term comes back as its parts' ids, to be resolved by the
    /// caller.
    ///
    /// # Errors
    /// [`StoreError::Corrupt`] for bytes no version of this store writes.
    pub fn decode(&self) -> Result<DecodedTerm, StoreError> {
        let (&kind, rest) = self
            .bytes
            .split_first()
            .ok_or_else(|| StoreError::corrupt("an empty dictionary entry"))?;
        let text = |bytes: &[u8]| {
            std::str::from_utf8(bytes)
                .map(str::to_owned)
                .map_err(|_| StoreError::corrupt("a dictionary entry is not UTF-8"))
        };
        let bad = |what: &str| StoreError::corrupt(format!("a dictionary entry holds {what}"));
        Ok(match kind {
            tag::IRI => DecodedTerm::Term(
                NamedNode::new(text(rest)?)
                    .map_err(|e| bad(&format!("an invalid IRI ({e})")))?
                    .into(),
            ),
            tag::BLANK => DecodedTerm::Term(
                BlankNode::new(text(rest)?)
                    .map_err(|e| bad(&format!("an invalid blank node ({e})")))?
                    .into(),
            ),
            tag::SIMPLE => DecodedTerm::Term(Literal::new_simple_literal(text(rest)?).into()),
            tag::LANG => {
                let (language, value) = split_prefixed(rest)?;
                DecodedTerm::Term(
                    Literal::new_language_tagged_literal_unchecked(text(value)?, text(language)?)
                        .into(),
                )
            }
            tag::DIR_LANG => {
                let (&direction, rest) = rest
                    .split_first()
                    .ok_or_else(|| bad("a truncated directional literal"))?;
                let direction = match direction {
                    1 => oxrdf::BaseDirection::Ltr,
                    2 => oxrdf::BaseDirection::Rtl,
                    other => return Err(bad(&format!("the unknown direction {other}"))),
                };
                let (language, value) = split_prefixed(rest)?;
                DecodedTerm::Term(
                    Literal::new_directional_language_tagged_literal_unchecked(
                        text(value)?,
                        text(language)?,
                        direction,
                    )
                    .into(),
                )
            }
            tag::TYPED => {
                let (datatype, value) = split_prefixed(rest)?;
                let datatype = NamedNode::new(text(datatype)?)
                    .map_err(|e| bad(&format!("an invalid datatype IRI ({e})")))?;
                DecodedTerm::Term(Literal::new_typed_literal(text(value)?, datatype).into())
            }
            tag::TRIPLE => {
                let [subject, predicate, object] = read_ids::<3>(rest)?;
                DecodedTerm::Triple(subject, predicate, object)
            }
            other => return Err(bad(&format!("the unknown tag {other}"))),
        })
    }
}

/// A dictionary entry read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodedTerm {
    /// A term that is not a triple term.
    Term(Term),
    /// A triple term's subject, predicate and object ids.
    Triple(TermId, TermId, TermId),
}

fn encode_literal(literal: LiteralRef<'_>, bytes: &mut Vec<u8>) {
    let value = literal.value().as_bytes();
    if let Some(language) = literal.language() {
        match literal.direction() {
            Some(direction) => {
                bytes.push(tag::DIR_LANG);
                bytes.push(match direction {
                    oxrdf::BaseDirection::Ltr => 1,
                    oxrdf::BaseDirection::Rtl => 2,
                });
            }
            None => bytes.push(tag::LANG),
        }
        write_prefixed(bytes, language.as_bytes());
    } else if literal.datatype() == oxrdf::vocab::xsd::STRING {
        bytes.push(tag::SIMPLE);
    } else {
        bytes.push(tag::TYPED);
        write_prefixed(bytes, literal.datatype().as_str().as_bytes());
    }
    bytes.extend_from_slice(value);
}

fn write_prefixed(out: &mut Vec<u8>, part: &[u8]) {
    write_id(out, TermId(part.len() as u64));
    out.extend_from_slice(part);
}

fn split_prefixed(bytes: &[u8]) -> Result<(&[u8], &[u8]), StoreError> {
    let (length, rest) = read_id(bytes)?;
    let length = usize::try_from(length.0).unwrap_or(usize::MAX);
    if rest.len() < length {
        return Err(StoreError::corrupt(
            "a dictionary entry is shorter than its length prefix",
        ));
    }
    Ok(rest.split_at(length))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn id_lengths_follow_the_documented_thresholds() {
        for (id, len) in [
            (1, 1),
            (31, 1),
            (32, 2),
            (8_191, 2),
            (8_192, 3),
            (2_097_151, 3),
            (2_097_152, 4),
            (536_870_911, 4),
            (536_870_912, 5),
            (MAX_TERM_ID, 8),
        ] {
            assert_eq!(key_of(&[TermId(id)]).len(), len, "id {id}");
        }
    }

    #[test]
    fn truncated_and_overlong_keys_are_corrupt() {
        let key = key_of(&[TermId(1), TermId(70_000)]);
        assert!(read_ids::<2>(&key[..key.len() - 1]).is_err());
        assert!(read_ids::<1>(&key).is_err());
        assert_eq!(read_ids::<2>(&key).unwrap(), [TermId(1), TermId(70_000)]);
    }

    #[test]
    fn every_literal_form_round_trips() {
        let terms: Vec<Term> = vec![
            NamedNode::new("http://example.com/a").unwrap().into(),
            BlankNode::new("b0").unwrap().into(),
            Literal::new_simple_literal("").into(),
            Literal::new_simple_literal("a\0b\u{10FFFF}").into(),
            Literal::new_language_tagged_literal("chat", "fr")
                .unwrap()
                .into(),
            Literal::new_directional_language_tagged_literal(
                "سلام",
                "ar",
                oxrdf::BaseDirection::Rtl,
            )
            .unwrap()
            .into(),
            Literal::new_directional_language_tagged_literal(
                "hi",
                "en-GB",
                oxrdf::BaseDirection::Ltr,
            )
            .unwrap()
            .into(),
            Literal::new_typed_literal("01", oxrdf::vocab::xsd::INTEGER).into(),
            Literal::new_typed_literal("x", NamedNode::new("http://e/dt").unwrap()).into(),
        ];
        for term in terms {
            let encoded = EncodedTerm::plain(term.as_ref()).unwrap();
            assert_eq!(encoded.decode().unwrap(), DecodedTerm::Term(term.clone()));
        }
    }

    #[test]
    fn garbage_entries_are_corrupt_not_panics() {
        for bytes in [
            vec![],
            vec![0],
            vec![99, 1],
            vec![tag::LANG, 0x1F],
            vec![tag::IRI, 0xFF],
        ] {
            assert!(EncodedTerm::from_bytes(bytes).decode().is_err());
        }
    }

    #[test]
    fn hashes_depend_on_the_key() {
        let node = NamedNode::new("http://e/x").unwrap();
        let term = EncodedTerm::plain(node.as_ref().into()).unwrap();
        let (a, b) = (TermHasher::random_key(), TermHasher::random_key());
        assert_ne!(a, b);
        assert_eq!(
            term.hash(&TermHasher::new(a)),
            term.hash(&TermHasher::new(a))
        );
        assert_ne!(
            term.hash(&TermHasher::new(a)),
            term.hash(&TermHasher::new(b))
        );
    }

    proptest! {
        #[test]
        fn ids_round_trip_and_keep_their_order(a in 0..=MAX_TERM_ID, b in 0..=MAX_TERM_ID) {
            let (ka, kb) = (key_of(&[TermId(a)]), key_of(&[TermId(b)]));
            prop_assert_eq!(read_ids::<1>(&ka).unwrap(), [TermId(a)]);
            prop_assert_eq!(a.cmp(&b), ka.cmp(&kb));
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..40)) {
            let _ = EncodedTerm::from_bytes(bytes.clone()).decode();
            let _ = read_ids::<3>(&bytes);
        }
    }
}
