//! The author kit end to end: the template plugin (`plugins/template`) is copied out of the
//! repository, built there with its own `cargo build` (its own workspace, depending only on
//! `kgdb-plugin-api`), then loaded by the `kgdb-host` binary that was built before it, which
//! runs the whole conformance suite on it. The host binary is checked to be untouched.

use std::path::Path;
use std::process::Command;

use kgdb_tests::{artifact_dir, host_binary, workspace_root, Run};

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let target = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_dir(&path, &target);
        } else {
            std::fs::copy(&path, &target).unwrap();
        }
    }
}

#[test]
fn template_plugin_built_out_of_tree_passes_conformance() {
    let host = host_binary();
    let host_before = std::fs::metadata(&host).unwrap().modified().unwrap();

    // Copy the template where a third party would have it: outside this repository.
    let scratch = tempfile::tempdir().unwrap();
    let crate_dir = scratch.path().join("my-backend");
    copy_dir(
        &workspace_root().join("plugins/template/src"),
        &crate_dir.join("src"),
    );
    let manifest = std::fs::read_to_string(workspace_root().join("plugins/template/Cargo.toml"))
        .unwrap()
        .replace(
            "path = \"../../plugin-api\"",
            &format!("path = {:?}", workspace_root().join("plugin-api")),
        );
    assert!(
        manifest.contains("plugin-api\""),
        "the template names plugin-api by path"
    );
    std::fs::write(crate_dir.join("Cargo.toml"), manifest).unwrap();
    // The workspace's lock file: the same dependency versions, nothing new to download.
    std::fs::copy(
        workspace_root().join("Cargo.lock"),
        crate_dir.join("Cargo.lock"),
    )
    .unwrap();

    // A target directory of its own (kept beside the workspace's, so reruns are incremental).
    let target_dir = artifact_dir().parent().map_or_else(
        || scratch.path().join("target"),
        |p| p.join("template-plugin"),
    );
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let build = Command::new(cargo)
        .args(["build", "--offline", "--quiet"])
        .current_dir(&crate_dir)
        .env("CARGO_TARGET_DIR", &target_dir)
        .env_remove("RUSTFLAGS")
        .output()
        .expect("cargo runs");
    assert!(
        build.status.success(),
        "building the template out of tree failed:\n{}",
        String::from_utf8_lossy(&build.stderr)
    );
    let library = target_dir
        .join("debug")
        .join(kgdb_host::plugin::resolve::library_file_name(
            "kgdb_plugin_template",
        ));
    assert!(library.is_file(), "{} was not built", library.display());

    let run = Run::host(
        scratch.path(),
        &["--plugin", library.to_str().unwrap(), "conformance"],
    );
    let stdout = run.expect_success();
    let cases = kgdb_conformance::cases().len();
    assert!(cases >= 105, "the suite has {cases} cases");
    assert!(
        stdout.starts_with("conformance of template 0.1.0"),
        "{stdout}"
    );
    assert_eq!(
        stdout.lines().filter(|l| l.starts_with("ok ")).count(),
        cases,
        "{stdout}"
    );
    assert_eq!(
        stdout.lines().last(),
        Some(format!("{cases} passed, 0 failed").as_str())
    );
    assert_eq!(
        std::fs::metadata(&host).unwrap().modified().unwrap(),
        host_before,
        "the host binary was rebuilt"
    );
}
