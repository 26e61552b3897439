//! The dictionary's part of `verify`: every id-to-term entry decodes and is below the next id,
//! and the two directions hold the same (term hash, id) pairs, compared by digest; where the
//! digests disagree, each id-to-term entry is looked up in the other direction to name what
//! differs.

use super::super::dictionary::decode_id_value;
use super::super::encoding::{read_ids, EncodedTerm, TermId};
use super::super::error::{Context, StoreError};
use super::super::Store;
use super::digest::{DigestKeys, SetDigest};
use super::{scan_batches, Checker};
use crate::plugin::BackendTxn;

/// Checks both directions of the dictionary; returns the number of terms.
pub(super) fn check_dictionary(
    store: &Store,
    txn: &BackendTxn,
    next_id: u64,
    keys: DigestKeys,
    checker: &mut Checker,
) -> Result<u64, StoreError> {
    let mut forward = SetDigest::default();
    scan_batches(
        txn,
        store.tables.id2term,
        "reading the dictionary",
        |batch| {
            for (key, value) in batch.iter() {
                let id = match read_ids::<1>(key) {
                    Ok([id]) => id,
                    Err(error) => {
                        forward.add_unreadable();
                        checker.differ(format!("dictionary: {error}"));
                        continue;
                    }
                };
                if id.0 >= next_id {
                    checker.differ(format!(
                        "term id {} is not below the next id {next_id}",
                        id.0
                    ));
                }
                let encoded = EncodedTerm::from_bytes(value.to_vec());
                if let Err(error) = encoded.decode() {
                    checker.differ(format!("term id {}: {error}", id.0));
                }
                forward.add_term(keys, &encoded.hash(&store.hasher), id);
            }
            Ok(())
        },
    )?;
    let mut reverse = SetDigest::default();
    scan_batches(
        txn,
        store.tables.term2id,
        "reading the dictionary",
        |batch| {
            for (key, value) in batch.iter() {
                match (<&[u8; 16]>::try_from(key), decode_id_value(value)) {
                    (Ok(hash), Ok(id)) => reverse.add_term(keys, hash, id),
                    _ => reverse.add_unreadable(),
                }
            }
            Ok(())
        },
    )?;
    if forward.count != reverse.count {
        checker.differ(format!(
            "the dictionary holds {} id-to-term entries but {} term-to-id entries",
            forward.count, reverse.count
        ));
    }
    if forward != reverse {
        name_differences(store, txn, checker)?;
    }
    Ok(forward.count)
}

/// Looks every id-to-term entry up in the term-to-id direction, naming those that differ.
fn name_differences(
    store: &Store,
    txn: &BackendTxn,
    checker: &mut Checker,
) -> Result<(), StoreError> {
    let named = checker.report.difference_count;
    scan_batches(
        txn,
        store.tables.id2term,
        "reading the dictionary",
        |batch| {
            let entries: Vec<(TermId, [u8; 16])> = batch
                .iter()
                .filter_map(|(key, value)| {
                    let [id] = read_ids::<1>(key).ok()?;
                    Some((
                        id,
                        EncodedTerm::from_bytes(value.to_vec()).hash(&store.hasher),
                    ))
                })
                .collect();
            let refs: Vec<&[u8]> = entries.iter().map(|(_, hash)| &hash[..]).collect();
            let found = txn
                .get_many(store.tables.term2id, &refs)
                .context("reading the dictionary")?;
            for ((id, _), value) in entries.iter().zip(found) {
                match value.map(|bytes| decode_id_value(&bytes)) {
                    Some(Ok(found)) if found == *id => {}
                    Some(Ok(found)) => {
                        checker.differ(format!("term id {} maps back to id {}", id.0, found.0));
                    }
                    Some(Err(error)) => checker.differ(format!("term id {}: {error}", id.0)),
                    None => checker.differ(format!(
                        "term id {} has no entry in the term-to-id direction",
                        id.0
                    )),
                }
            }
            Ok(())
        },
    )?;
    if checker.report.difference_count == named {
        checker.differ(
            "the term-to-id direction holds entries the id-to-term direction lacks".to_owned(),
        );
    }
    Ok(())
}
