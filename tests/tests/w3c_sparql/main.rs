//! The W3C SPARQL 1.1 test suites (`../shared/w3c-rdf-tests/sparql/sparql11/`), one test per
//! W3C test, named by its IRI: so far the positive and negative syntax tests of queries and
//! updates, through `kgdb_host::sparql::{parse_query, parse_update}`.
//!
//! A test that does not pass goes in [`EXPECTED_FAILURES`] with its reason; a listed test that
//! passes fails the run, so the list stays true. The totals are printed at the end.

mod manifest;

use std::path::PathBuf;

use kgdb_host::sparql::{parse_query, parse_update};
use libtest_mimic::{Arguments, Failed, Trial};

/// Tests that do not pass, with the reason.
const EXPECTED_FAILURES: &[(&str, &str)] = &[];

/// The local copy of the W3C suites: `$KGDB_SHARED/w3c-rdf-tests`, or `shared/w3c-rdf-tests`
/// beside `$KGDB_SHARED_DATA`, the workspace or one of its ancestors.
fn suites() -> Option<PathBuf> {
    let mut candidates = Vec::new();
    if let Some(shared) = std::env::var_os("KGDB_SHARED") {
        candidates.push(PathBuf::from(shared).join("w3c-rdf-tests"));
    }
    if let Some(data) = std::env::var_os(kgdb_tests::store_kit::SHARED_DATA_ENV) {
        candidates.push(PathBuf::from(data).join("../w3c-rdf-tests"));
    }
    for ancestor in kgdb_tests::workspace_root().ancestors() {
        candidates.push(ancestor.join("shared/w3c-rdf-tests"));
    }
    candidates.into_iter().find(|path| path.is_dir())
}

fn syntax_trial(test: manifest::Test) -> Option<Trial> {
    let (update, positive) = match test.kind.as_str() {
        "PositiveSyntaxTest11" => (false, true),
        "NegativeSyntaxTest11" => (false, false),
        "PositiveUpdateSyntaxTest11" => (true, true),
        "NegativeUpdateSyntaxTest11" => (true, false),
        _ => return None,
    };
    let expected_failure = EXPECTED_FAILURES.iter().find(|(id, _)| *id == test.id);
    let name = test.id.clone();
    Some(Trial::test(name, move || {
        let path = test.action.clone().ok_or("the test names no file")?;
        let text =
            std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let base = format!("file://{}", path.display());
        let parsed = if update {
            parse_update(&text, "test", Some(&base)).map(|_| ())
        } else {
            parse_query(&text, "test", Some(&base)).map(|_| ())
        };
        let outcome: Result<(), Failed> = match (positive, parsed) {
            (true, Ok(())) | (false, Err(_)) => Ok(()),
            (true, Err(error)) => Err(format!("refused: {error}").into()),
            (false, Ok(())) => Err("accepted a text the test says is not SPARQL".into()),
        };
        match (expected_failure, outcome) {
            (None, outcome) => outcome,
            (Some(_), Err(_)) => Ok(()),
            (Some((_, reason)), Ok(())) => Err(format!(
                "passes, but is listed as an expected failure ({reason}): take it off the list"
            )
            .into()),
        }
    }))
}

fn main() {
    let arguments = Arguments::from_args();
    let Some(root) = suites() else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "the W3C test suites are not found; CI must have ../shared beside the checkout"
        );
        eprintln!(
            "note: the W3C test suites are not found (../shared/w3c-rdf-tests); nothing was run"
        );
        return;
    };
    let sparql11 = root.join("sparql/sparql11");
    let mut trials = Vec::new();
    for manifest in [
        "manifest-sparql11-query.ttl",
        "manifest-sparql11-update.ttl",
    ] {
        for test in manifest::tests(&sparql11.join(manifest), &root) {
            trials.extend(syntax_trial(test));
        }
    }
    let total = trials.len();
    let conclusion = libtest_mimic::run(&arguments, trials);
    println!(
        "W3C SPARQL 1.1 syntax: {} passed, {} failed, {} expected failures (of {total})",
        conclusion
            .num_passed
            .saturating_sub(EXPECTED_FAILURES.len() as u64),
        conclusion.num_failed,
        EXPECTED_FAILURES.len()
    );
    conclusion.exit();
}
