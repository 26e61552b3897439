//! How large a term the store takes: whatever it accepts must come back out of a dump in any
//! format and load again, and fit in one value of the backend.

use std::fmt::{self, Write};

use oxrdf::TermRef;

use super::encoding::EncodedTerm;
use crate::units::thousands;

/// The longest N-Triples form of a term: 8,000,000 bytes (quotes, escapes and datatype or
/// language tag included). The Turtle-family parsers hold the term being read and what
/// precedes it on its line in a buffer of 16 MiB, of which the part before the term is at most
/// 8 MiB; under this limit a term written on one line with three others always reads back.
pub const MAX_TERM_TEXT_BYTES: usize = 8_000_000;

/// The limits on one term of a store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TermLimits {
    /// The longest N-Triples form of a term.
    pub text_bytes: usize,
    /// The longest dictionary entry: the backend's limit on a value.
    pub stored_bytes: usize,
}

/// Which limit a term is over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TermLimit {
    /// [`TermLimits::text_bytes`].
    Text,
    /// [`TermLimits::stored_bytes`].
    Stored,
}

/// A term over one of the [`TermLimits`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.describe())]
pub struct TermTooLarge {
    /// `an IRI`, `a blank node` or `a literal`.
    pub what: &'static str,
    /// Its size in the measure of `limit`.
    pub bytes: usize,
    /// The limit it is over.
    pub limit: TermLimit,
    /// The limit's value in bytes.
    pub max_bytes: usize,
}

impl TermTooLarge {
    fn describe(&self) -> String {
        let (bytes, max) = (
            thousands(self.bytes as u64),
            thousands(self.max_bytes as u64),
        );
        match self.limit {
            TermLimit::Text => format!(
                "{} of {bytes} bytes (written as N-Triples) is over the {max} bytes a term may take, the most every dump of the store can load back",
                self.what
            ),
            TermLimit::Stored => format!(
                "{} of {bytes} bytes (as stored) is over this backend's limit of {max} bytes per value",
                self.what
            ),
        }
    }
}

impl TermLimits {
    /// Checks `term` (and, for a triple term, each of its parts) against both limits.
    ///
    /// # Errors
    /// [`TermTooLarge`] for the first term over a limit.
    pub fn check(&self, term: TermRef<'_>) -> Result<(), TermTooLarge> {
        let (what, payload) = match term {
            TermRef::NamedNode(node) => ("an IRI", node.as_str().len()),
            TermRef::BlankNode(node) => ("a blank node", node.as_str().len()),
            TermRef::Literal(literal) => (
                "a literal",
                literal.value().len()
                    + literal.language().map_or(0, str::len)
                    + literal.datatype().as_str().len(),
            ),
            TermRef::Triple(triple) => {
                self.check(triple.subject.as_ref().into())?;
                self.check(triple.predicate.as_ref().into())?;
                return self.check(triple.object.as_ref());
            }
        };
        // Escapes take at most six bytes per byte of text; most terms are far below both limits.
        if payload.saturating_mul(6).saturating_add(32) <= self.text_bytes.min(self.stored_bytes) {
            return Ok(());
        }
        let text = text_len(term);
        if text > self.text_bytes {
            return Err(TermTooLarge {
                what,
                bytes: text,
                limit: TermLimit::Text,
                max_bytes: self.text_bytes,
            });
        }
        let stored = EncodedTerm::plain(term).map_or(0, |encoded| encoded.bytes().len());
        if stored > self.stored_bytes {
            return Err(TermTooLarge {
                what,
                bytes: stored,
                limit: TermLimit::Stored,
                max_bytes: self.stored_bytes,
            });
        }
        Ok(())
    }
}

/// The length of `term` written as N-Triples, without writing it.
fn text_len(term: TermRef<'_>) -> usize {
    struct Counter(usize);
    impl Write for Counter {
        fn write_str(&mut self, text: &str) -> fmt::Result {
            self.0 += text.len();
            Ok(())
        }
    }
    let mut counter = Counter(0);
    // Writing to a counter cannot fail.
    let _ = write!(counter, "{term}");
    counter.0
}

#[cfg(test)]
mod tests {
    use oxrdf::{Literal, NamedNode, Term, Triple};

    use super::*;

    const SMALL: TermLimits = TermLimits {
        text_bytes: 100,
        stored_bytes: 80,
    };

    #[test]
    fn text_length_counts_escapes_and_datatypes() {
        let literal = Literal::new_simple_literal("a\"\n\u{1}");
        assert_eq!(text_len(literal.as_ref().into()), literal.to_string().len());
        assert_eq!(text_len(literal.as_ref().into()), 2 + 1 + 2 + 2 + 6);
        let typed = Literal::new_typed_literal("1", NamedNode::new_unchecked("http://e/t"));
        assert_eq!(text_len(typed.as_ref().into()), "\"1\"^^<http://e/t>".len());
    }

    #[test]
    fn terms_over_either_limit_are_refused() {
        let fits = Literal::new_simple_literal("x".repeat(70));
        assert_eq!(SMALL.check(fits.as_ref().into()), Ok(()));
        // 90 control characters: 540 bytes as N-Triples, 91 stored.
        let escaped = Literal::new_simple_literal("\u{1}".repeat(90));
        let error = SMALL.check(escaped.as_ref().into()).unwrap_err();
        assert_eq!((error.limit, error.bytes), (TermLimit::Text, 542));
        // 90 plain bytes: 92 as N-Triples (under 100), 91 stored (over 80).
        let stored = Literal::new_simple_literal("x".repeat(90));
        let error = SMALL.check(stored.as_ref().into()).unwrap_err();
        assert_eq!((error.limit, error.bytes), (TermLimit::Stored, 91));
        assert!(error
            .to_string()
            .contains("this backend's limit of 80 bytes"));
        let iri = NamedNode::new_unchecked(format!("http://e/{}", "i".repeat(200)));
        assert_eq!(SMALL.check(iri.as_ref().into()).unwrap_err().what, "an IRI");
    }

    #[test]
    fn the_parts_of_a_triple_term_are_checked() {
        let small = NamedNode::new_unchecked("http://e/s");
        let large = Literal::new_simple_literal("y".repeat(500));
        let triple = Term::Triple(Box::new(Triple::new(small.clone(), small, large)));
        let error = SMALL.check(triple.as_ref()).unwrap_err();
        assert_eq!(error.what, "a literal");
    }
}
