//! The bad-input suite: every mistake a user can make with `kgdb-host` (manifests, config
//! values, plugin files, RDF inputs in every format, patterns, data directories, damaged
//! stores, closed and full outputs) gives one `error:` line naming the place and a non-zero
//! exit (or, for a closed pipe, a quiet end), and leaves a pre-loaded store unchanged: the
//! same count, a clean `verify` and the same dump; a damaged store is not written to at all.
//!
//! One test per case (`cargo test -p kgdb-tests --test bad_inputs -- NAME`); the cases are
//! in one module per kind of input.

mod case;
mod data_dirs;
mod manifests;
mod outputs;
mod patterns;
mod plugin_files;
mod rdf_inputs;
mod stores;

use libtest_mimic::{Arguments, Trial};

fn main() {
    let arguments = Arguments::from_args();
    let cases: Vec<case::Case> = [
        manifests::cases(),
        plugin_files::cases(),
        rdf_inputs::cases(),
        patterns::cases(),
        data_dirs::cases(),
        stores::cases(),
        outputs::cases(),
    ]
    .into_iter()
    .flatten()
    .collect();
    let mut names = std::collections::HashSet::new();
    for case in &cases {
        assert!(
            names.insert(case.name.clone()),
            "two cases are named {}",
            case.name
        );
    }
    let trials = cases
        .into_iter()
        .map(|case| {
            let name = format!("{}::{}", case.kind, case.name);
            Trial::test(name, move || case.run().map_err(Into::into))
        })
        .collect();
    libtest_mimic::run(&arguments, trials).exit();
}
