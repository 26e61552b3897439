//! Index and journal keys: decoding arbitrary bytes never panics, a decoded key encodes to a
//! key that decodes to the same quad, and ids encode to keys that sort as the ids do.
#![no_main]

use kgdb_host::store::encoding::{key_of, read_ids, TermId, MAX_TERM_ID};
use kgdb_host::store::index::{EncodedQuad, Ordering};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for ordering in Ordering::ALL {
        if let Ok(quad) = ordering.decode(data) {
            let key = ordering.key(&quad);
            assert_eq!(ordering.decode(&key).ok(), Some(quad), "{ordering:?}");
        }
    }
    if let Ok(quad) = EncodedQuad::from_journal_key(data) {
        assert_eq!(
            EncodedQuad::from_journal_key(&quad.journal_key()).ok(),
            Some(quad)
        );
    }
    // Ids from the input, eight bytes each: keys round-trip and keep the ids' order.
    let ids: Vec<TermId> = data
        .chunks_exact(8)
        .take(2)
        .map(|chunk| {
            let mut word = [0; 8];
            word.copy_from_slice(chunk);
            TermId(u64::from_le_bytes(word) & MAX_TERM_ID)
        })
        .collect();
    if let [first, second] = ids[..] {
        let (a, b) = (key_of(&[first, second]), key_of(&[second, first]));
        assert_eq!(read_ids::<2>(&a).ok(), Some([first, second]));
        assert_eq!(read_ids::<2>(&b).ok(), Some([second, first]));
        assert_eq!(a.cmp(&b), [first, second].cmp(&[second, first]));
    }
});
