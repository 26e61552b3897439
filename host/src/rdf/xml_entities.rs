//! A guard in front of the RDF/XML parser against entity expansion bombs ("billion laughs").
//!
//! The parser expands the entities a document declares in its DOCTYPE, nested ones included,
//! before anything bounds the result: ten levels of ten references each are ten billion bytes.
//! The guard reads the document first and passes it on unchanged, but
//! - holds the prolog back until the DOCTYPE is complete, and refuses a declared entity that
//!   would expand to more than [`MAX_ENTITY_BYTES`];
//! - refuses a text or a tag (its attribute values) that would exceed [`MAX_TEXT_BYTES`] once
//!   its entity references are expanded, before the parser allocates it.
//!
//! Refusals are `InvalidData` read errors carrying an [`EntityLimit`] with the line.

use std::collections::HashMap;
use std::io::{self, Read};

/// The most bytes one declared entity may expand to.
pub const MAX_ENTITY_BYTES: u64 = 64 * 1024;
/// The most bytes one text or tag may take once its entities are expanded: the size of the
/// largest term a load accepts from RDF/XML (the line-based parsers' buffer limit too).
pub const MAX_TEXT_BYTES: u64 = 16 * 1024 * 1024;
/// The most bytes of prolog (XML declaration, comments, DOCTYPE) held back for checking.
const MAX_PROLOG_BYTES: usize = 1024 * 1024;
/// The longest entity name looked up in a reference.
const MAX_NAME: usize = 256;

/// Why the guard refused a document.
#[derive(Debug)]
pub struct EntityLimit {
    /// 1-based line of the input where the limit was passed.
    pub line: u64,
    /// What was refused.
    pub message: String,
}

impl std::fmt::Display for EntityLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for EntityLimit {}

/// Where the guard is in the document.
enum Phase {
    /// Collecting the prolog, which is not passed on until checked.
    Prolog,
    /// Passing the prolog on.
    Releasing,
    /// Passing the body on, byte by byte checked.
    Body,
}

/// A reader passing an RDF/XML document through, refusing entity expansion bombs.
pub struct EntityGuard<R> {
    inner: R,
    phase: Phase,
    /// The prolog, held back (`Prolog`) or being released (`Releasing`, from `released`).
    prolog: Vec<u8>,
    released: usize,
    /// Expanded lengths of the entities the DOCTYPE declares.
    entities: HashMap<String, u64>,
    line: u64,
    /// Expanded bytes of the text or tag being read.
    segment: u64,
    /// An entity reference being read (after `&`), if any.
    reference: Option<Vec<u8>>,
}

impl<R: Read> EntityGuard<R> {
    /// A guard over `inner`.
    pub fn new(inner: R) -> Self {
        Self {
            inner,
            phase: Phase::Prolog,
            prolog: Vec::new(),
            released: 0,
            entities: HashMap::new(),
            line: 1,
            segment: 0,
            reference: None,
        }
    }

    fn refuse(&self, line: u64, message: String) -> io::Error {
        io::Error::new(io::ErrorKind::InvalidData, EntityLimit { line, message })
    }

    /// Reads the prolog until the first element (or the input's end), then checks the
    /// DOCTYPE's entities.
    fn collect_prolog(&mut self) -> io::Result<()> {
        let mut chunk = [0u8; 8192];
        loop {
            if let Some(end) = prolog_end(&self.prolog) {
                if end.is_some() {
                    break;
                }
            }
            if self.prolog.len() > MAX_PROLOG_BYTES {
                return Err(self.refuse(
                    1,
                    format!(
                        "the document's prolog (its DOCTYPE) is over {} KiB: refused",
                        MAX_PROLOG_BYTES / 1024
                    ),
                ));
            }
            let read = self.inner.read(&mut chunk)?;
            if read == 0 {
                break;
            }
            self.prolog.extend_from_slice(&chunk[..read]);
        }
        self.check_doctype()?;
        Ok(())
    }

    /// Computes each declared entity's expanded length, refusing one over the limit.
    fn check_doctype(&mut self) -> io::Result<()> {
        let text = String::from_utf8_lossy(&self.prolog).into_owned();
        let Some(start) = text.find("<!DOCTYPE") else {
            return Ok(());
        };
        let mut offset = start;
        for part in text[start..].split('<').skip(1) {
            offset += 1;
            let line = 1 + text[..offset].bytes().filter(|b| *b == b'\n').count() as u64;
            if let Some(rest) = part.strip_prefix("!ENTITY") {
                let rest = rest.trim_start();
                let rest = rest.strip_prefix('%').unwrap_or(rest).trim_start();
                if let Some((name, rest)) = rest.split_once(|c: char| c.is_ascii_whitespace()) {
                    if let Some(value) = rest
                        .trim_start()
                        .strip_prefix('"')
                        .and_then(|v| v.split_once('"'))
                        .map(|(value, _)| value)
                    {
                        let length = self.expanded_length(value.as_bytes());
                        if length > MAX_ENTITY_BYTES {
                            return Err(self.refuse(
                                line,
                                format!(
                                    "entity `{name}` would expand to {length} bytes, over the {} KiB an entity may take (an entity expansion bomb?): refused before expanding it",
                                    MAX_ENTITY_BYTES / 1024
                                ),
                            ));
                        }
                        self.entities.insert(name.to_owned(), length);
                    }
                }
            }
            offset += part.len();
        }
        Ok(())
    }

    /// The length of `bytes` with the declared entities it refers to expanded (saturating).
    fn expanded_length(&self, bytes: &[u8]) -> u64 {
        let mut length = 0u64;
        let mut rest = bytes;
        while let Some(amp) = rest.iter().position(|b| *b == b'&') {
            length = length.saturating_add(amp as u64);
            let after = &rest[amp + 1..];
            match after.iter().take(MAX_NAME).position(|b| *b == b';') {
                Some(end) => {
                    let name = String::from_utf8_lossy(&after[..end]);
                    length = length.saturating_add(self.reference_length(&name, end as u64 + 2));
                    rest = &after[end + 1..];
                }
                None => {
                    length = length.saturating_add(1);
                    rest = after;
                }
            }
        }
        length.saturating_add(rest.len() as u64)
    }

    /// Bytes a reference `&name;` (of `written` bytes) stands for.
    fn reference_length(&self, name: &str, written: u64) -> u64 {
        self.entities.get(name).copied().unwrap_or(written)
    }

    /// Scans body bytes passed on, refusing a text or tag that grows past the limit.
    fn scan(&mut self, bytes: &[u8]) -> io::Result<()> {
        for &byte in bytes {
            if byte == b'\n' {
                self.line += 1;
            }
            if let Some(name) = &mut self.reference {
                if byte == b';' {
                    let written = name.len() as u64 + 2;
                    let name = String::from_utf8_lossy(name).into_owned();
                    self.reference = None;
                    let stands_for = self.reference_length(&name, written);
                    self.segment = self
                        .segment
                        .saturating_add(stands_for.saturating_sub(written));
                } else if name.len() < MAX_NAME && byte != b'<' && byte != b'&' {
                    name.push(byte);
                } else {
                    self.reference = None;
                }
            }
            match byte {
                b'<' => self.segment = 0,
                b'&' => self.reference = Some(Vec::new()),
                _ => {}
            }
            self.segment = self.segment.saturating_add(1);
            if self.segment > MAX_TEXT_BYTES {
                return Err(self.refuse(
                    self.line,
                    format!(
                        "a text or tag of more than {} MiB once its entities are expanded: refused",
                        MAX_TEXT_BYTES >> 20
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// Where the prolog of `bytes` ends: `Some(Some(end))` once known, `Some(None)` while the
/// DOCTYPE is still open, `None` while more bytes are needed to tell.
fn prolog_end(bytes: &[u8]) -> Option<Option<usize>> {
    let mut index = 0;
    while let Some(offset) = bytes[index..].iter().position(|b| *b == b'<') {
        let at = index + offset;
        let rest = &bytes[at..];
        if rest.len() < 9 {
            return None;
        }
        if rest.starts_with(b"<?") || rest.starts_with(b"<!--") {
            let end: &[u8] = if rest.starts_with(b"<?") {
                b"?>"
            } else {
                b"-->"
            };
            match find(&rest[2..], end) {
                Some(close) => index = at + 2 + close + end.len(),
                None => return Some(None),
            }
        } else if rest.starts_with(b"<!DOCTYPE") {
            // The internal subset, `[ … ]`, may hold `>`; the DOCTYPE ends at the `>` after it.
            let subset_end = match (find(rest, b"["), find(rest, b">")) {
                (Some(open), Some(close)) if open < close => match find(&rest[open..], b"]") {
                    Some(end) => open + end,
                    None => return Some(None),
                },
                _ => 0,
            };
            return match find(&rest[subset_end..], b">") {
                Some(close) => Some(Some(at + subset_end + close + 1)),
                None => Some(None),
            };
        } else {
            // The first element: no DOCTYPE.
            return Some(Some(at));
        }
    }
    None
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

impl<R: Read> Read for EntityGuard<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if matches!(self.phase, Phase::Prolog) {
            self.collect_prolog()?;
            self.phase = Phase::Releasing;
        }
        if matches!(self.phase, Phase::Releasing) {
            if self.released < self.prolog.len() {
                let end = (self.released + out.len()).min(self.prolog.len());
                let chunk = self.prolog[self.released..end].to_vec();
                self.scan(&chunk)?;
                out[..chunk.len()].copy_from_slice(&chunk);
                self.released = end;
                return Ok(chunk.len());
            }
            self.prolog = Vec::new();
            self.phase = Phase::Body;
        }
        let read = self.inner.read(out)?;
        self.scan(&out[..read])?;
        Ok(read)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(text: &str) -> Result<String, EntityLimit> {
        let mut out = String::new();
        match EntityGuard::new(text.as_bytes()).read_to_string(&mut out) {
            Ok(_) => Ok(out),
            Err(error) => Err(*error
                .into_inner()
                .expect("a guard error")
                .downcast::<EntityLimit>()
                .expect("an entity limit")),
        }
    }

    fn laughs(levels: usize) -> String {
        let mut text =
            String::from("<?xml version=\"1.0\"?>\n<!DOCTYPE rdf:RDF [\n<!ENTITY lol0 \"lol\">\n");
        for level in 1..=levels {
            let refs: String = (0..10).map(|_| format!("&lol{};", level - 1)).collect();
            text.push_str(&format!("<!ENTITY lol{level} \"{refs}\">\n"));
        }
        text.push_str(&format!(
            "]>\n<rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\"><rdf:Description rdf:about=\"http://e/a\"><rdf:value>&lol{levels};</rdf:value></rdf:Description></rdf:RDF>\n"
        ));
        text
    }

    #[test]
    fn a_billion_laughs_is_refused_at_its_declaration() {
        let error = read_all(&laughs(9)).unwrap_err();
        assert!(error.message.contains("entity `lol5`"), "{error}");
        assert_eq!(error.line, 8);
    }

    #[test]
    fn ordinary_documents_pass_unchanged() {
        for text in [
            laughs(2),
            "<rdf:RDF/>".to_owned(),
            "<?xml version=\"1.0\"?><!-- a < comment --><!DOCTYPE x [ <!ENTITY e \"http://e/\"> ]><x a=\"&e;y\">&lt;&e;</x>".to_owned(),
            String::new(),
        ] {
            assert_eq!(read_all(&text).unwrap(), text);
        }
    }

    #[test]
    fn many_references_in_one_text_are_refused_before_expansion() {
        let mut text = String::from("<!DOCTYPE x [ <!ENTITY big \"");
        text.push_str(&"x".repeat(60_000));
        text.push_str("\"> ]>\n<x>");
        for _ in 0..300 {
            text.push_str("&big;");
        }
        text.push_str("</x>");
        let error = read_all(&text).unwrap_err();
        assert!(error.message.contains("16 MiB"), "{error}");
        assert_eq!(error.line, 2);
    }
}
