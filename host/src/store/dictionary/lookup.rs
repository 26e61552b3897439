//! Looking terms up: term → id, without adding anything.

use oxrdf::Term;

use super::super::encoding::{EncodedTerm, TermId};
use super::super::error::{Context, StoreError};
use super::super::Store;
use super::{decode_id_value, TermScope};
use crate::plugin::BackendTxn;

/// The id of `term` if the view `scope` of the store holds it.
///
/// # Errors
/// Backend failures; a corrupt id.
pub(in crate::store) fn lookup(
    store: &Store,
    txn: &BackendTxn,
    scope: TermScope<'_>,
    term: &Term,
) -> Result<Option<TermId>, StoreError> {
    let encoded = match term {
        Term::Triple(triple) => {
            let parts = [
                Term::from(triple.subject.clone()),
                Term::from(triple.predicate.clone()),
                triple.object.clone(),
            ];
            let mut ids = [TermId(0); 3];
            for (slot, part) in ids.iter_mut().zip(&parts) {
                match lookup(store, txn, scope, part)? {
                    Some(id) => *slot = id,
                    None => return Ok(None),
                }
            }
            EncodedTerm::triple(ids[0], ids[1], ids[2])
        }
        other => EncodedTerm::plain(other.as_ref())
            .ok_or_else(|| StoreError::InvalidInput("a term the store cannot encode".into()))?,
    };
    let hash = encoded.hash(&store.hasher);
    let known = scope
        .local
        .and_then(|local| local.get(&hash))
        .copied()
        .or_else(|| {
            scope
                .generation
                .and_then(|generation| store.terms.ids(generation, [&hash])[0])
                .filter(|id| scope.sees(*id))
        });
    if let Some(id) = known {
        store.counters.looked_up(1, 0, 0);
        return Ok(Some(id));
    }
    match txn
        .get(store.tables.term2id, &hash)
        .context("looking up a term")?
    {
        Some(bytes) => {
            let id = decode_id_value(&bytes)?;
            if let Some(generation) = scope.generation {
                store.terms.remember_ids(generation, [(hash, id)]);
            }
            store.counters.looked_up(0, 1, 0);
            Ok(Some(id))
        }
        None => {
            store.counters.looked_up(0, 0, 1);
            Ok(None)
        }
    }
}
