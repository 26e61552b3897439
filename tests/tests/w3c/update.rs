//! Update evaluation tests: the test's data loaded into a fresh store on a plugin, its request
//! run through `kgdb_host::sparql::execute_update`, and every quad of the store afterwards
//! compared with the expected dataset by isomorphism (blank nodes mapped, literals compared by
//! value as in the query tests).

use kgdb_host::sparql;
use kgdb_host::store::Store;
use oxrdf::Dataset;

use super::evaluation::{canonical, dataset_quads, file_iri, store_quads, store_with_data};
use super::manifest::Test;

/// Runs one update evaluation test.
pub fn run(test: &Test, open: &dyn Fn() -> (Store, tempfile::TempDir)) -> Result<(), String> {
    let request_path = test.request.as_ref().ok_or("the test names no request")?;
    let text = std::fs::read_to_string(request_path)
        .map_err(|e| format!("{}: {e}", request_path.display()))?;
    let update = sparql::parse_update(&text, "request", Some(&file_iri(request_path)))
        .map_err(|e| e.to_string())?;
    let (store, _dir) = store_with_data(open, &test.data, &test.graph_data)?;
    sparql::execute_update(&store, &update).map_err(|e| format!("the update failed: {e}"))?;
    let actual = store_quads(&store)?;
    let expected: Dataset =
        dataset_quads(&test.expected_store.data, &test.expected_store.graph_data)?
            .into_iter()
            .collect();
    let (actual, expected) = (canonical(actual), canonical(expected));
    if actual == expected {
        Ok(())
    } else {
        Err(format!(
            "expected the store to hold {expected:?}\nbut it holds {actual:?}"
        ))
    }
}
