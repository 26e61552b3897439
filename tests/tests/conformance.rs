//! The conformance suite (`kgdb-conformance`) on every plugin kgdb ships, each loaded from its
//! built `cdylib` through the real loader: one test per case and plugin, named
//! `PLUGIN::CATEGORY::CASE` (filter them as usual: `cargo test --test conformance -- lmdb::range`).

use libtest_mimic::{Arguments, Failed, Trial};

fn main() {
    let arguments = Arguments::from_args();
    let mut trials = Vec::new();
    for (plugin, target) in kgdb_tests::shipped_targets() {
        for case in kgdb_conformance::cases() {
            let target = target.clone();
            trials.push(Trial::test(
                format!("{plugin}::{}", case.full_name()),
                move || match kgdb_conformance::run_case(&target, case) {
                    Ok(notes) => {
                        for note in notes {
                            eprintln!("note: {plugin}::{}: {note}", case.full_name());
                        }
                        Ok(())
                    }
                    Err(message) => Err(Failed::from(message)),
                },
            ));
        }
    }
    libtest_mimic::run(&arguments, trials).exit();
}
