//! Where the output goes and what the inputs are: a reader that goes away (`| head`) ends a
//! command quietly with its usual status; a full device (`> /dev/full`) is one `error:` line,
//! and a load that committed says so; a FIFO given as a plugin is refused at once instead of
//! hanging; a pipe is a valid RDF input and a directory is not.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use kgdb_tests::{host_binary, plugin_library, workspace_root, Run};

/// Commands over a store loaded with the example library (lmdb, in `dir/data`).
fn commands() -> Vec<Vec<&'static str>> {
    [
        &["count"][..],
        &["quads", "*", "*", "*"],
        &["dump"],
        &["graphs"],
        &["stats"],
        &["stats", "--json"],
        &["verify"],
        &["status"],
        &["remove", "<http://nothing>", "*", "*"],
        &["recover"],
        &["plugins", "list"],
        &["plugins", "info"],
        &["plugins", "check"],
        &["conformance", "--list"],
    ]
    .into_iter()
    .map(<[&str]>::to_vec)
    .collect()
}

fn loaded_store() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let example = workspace_root().join("examples/library.ttl");
    let run = kgdb_tests::run_plugin(
        dir.path(),
        "kgdb_plugin_lmdb",
        &["load", example.to_str().unwrap()],
    );
    run.expect_success();
    dir
}

fn host(dir: &Path, args: &[&str]) -> Command {
    let lmdb = plugin_library("kgdb_plugin_lmdb");
    let mut command = Command::new(host_binary());
    command
        .arg("--config")
        .arg(workspace_root().join("plugins.toml"))
        .args(["--plugin", lmdb.to_str().unwrap(), "--data-dir", "data"])
        .args(args)
        .current_dir(dir)
        .env_remove("RUST_LOG")
        .env("RUST_BACKTRACE", "1");
    command
}

#[test]
fn a_reader_that_goes_away_ends_the_command_quietly() {
    let dir = loaded_store();
    for args in commands() {
        let mut child = host(dir.path(), &args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Close the read end before the command writes anything.
        drop(child.stdout.take());
        let output = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            !stderr.contains("panicked") && !stderr.contains("error:"),
            "{args:?}: {stderr}"
        );
        assert_eq!(output.status.code(), Some(0), "{args:?}: {stderr}");
    }
}

#[cfg(target_os = "linux")]
#[test]
fn a_full_output_device_is_one_error_line() {
    let dir = loaded_store();
    // `graphs` writes nothing for a store without named graphs.
    for args in commands().into_iter().filter(|args| args[0] != "graphs") {
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap();
        let output = host(dir.path(), &args).stdout(full).output().unwrap();
        let run = Run {
            code: output.status.code(),
            stdout: String::new(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        };
        assert!(!run.stderr.contains("panicked"), "{args:?}: {run:#?}");
        run.expect_one_line_error(&["standard output", "No space left on device"]);
    }
    // A load whose summary cannot be written still committed, and says so.
    let more = dir.path().join("more.nt");
    std::fs::write(&more, "<http://e/x> <http://e/y> <http://e/z> .\n").unwrap();
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let output = host(dir.path(), &["load", more.to_str().unwrap()])
        .stdout(full)
        .output()
        .unwrap();
    let run = Run {
        code: output.status.code(),
        stdout: String::new(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    };
    run.expect_one_line_error(&["the load itself committed: 1 new quads"]);
    let count = host(dir.path(), &["count"]).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&count.stdout), "44\n");
}

#[cfg(unix)]
#[test]
fn a_fifo_given_as_a_plugin_is_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("plugin.so");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success(), "mkfifo");
    let mut child = Command::new(host_binary())
        .args(["--plugin", fifo.to_str().unwrap(), "count"])
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(20) {
            child.kill().unwrap();
            panic!("kgdb-host waits on a FIFO given as --plugin");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let output = child.wait_with_output().unwrap();
    let run = Run {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    };
    run.expect_one_line_error(&["plugin.so", "not a regular file"]);
}

#[cfg(unix)]
#[test]
fn a_pipe_is_an_rdf_input_and_a_directory_is_not() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let fifo = d.join("input.nt");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success(), "mkfifo");
    let writer_path = fifo.clone();
    let writer = std::thread::spawn(move || {
        let mut pipe = std::fs::OpenOptions::new()
            .write(true)
            .open(writer_path)
            .unwrap();
        pipe.write_all(b"<http://e/a> <http://e/b> <http://e/c> .\n")
            .unwrap();
    });
    let run = kgdb_tests::run_plugin(d, "kgdb_plugin_lmdb", &["load", "input.nt"]);
    writer.join().unwrap();
    assert!(
        run.expect_success().contains("loaded 1 new quads"),
        "{run:#?}"
    );
    std::fs::create_dir(d.join("folder.nt")).unwrap();
    kgdb_tests::run_plugin(d, "kgdb_plugin_lmdb", &["load", "folder.nt"]).expect_one_line_error(&[
        "folder.nt",
        "is a directory",
        "nothing was loaded",
    ]);
}
