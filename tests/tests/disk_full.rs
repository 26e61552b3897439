//! A store on a filesystem that fills up mid-load: one error line saying so, the data as it
//! was (at once, or once the interrupted load is undone after space is freed), and reads
//! possible on the full disk. Needs `mount` (root, as on CI, where a machine without it fails
//! these tests instead of skipping them).

use std::path::{Path, PathBuf};
use std::process::Command;

use kgdb_tests::run_plugin;
use tempfile::TempDir;

/// A tmpfs of a given size mounted on a scratch directory, unmounted when dropped.
struct SmallDisk {
    dir: TempDir,
}

impl SmallDisk {
    /// `None` (outside CI) where this machine cannot mount one.
    fn mount(mib: u32) -> Option<Self> {
        let dir = tempfile::tempdir().expect("a scratch directory");
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={mib}m"), "tmpfs"])
            .arg(dir.path())
            .status()
            .is_ok_and(|status| status.success());
        if mounted {
            return Some(Self { dir });
        }
        assert!(
            std::env::var_os("CI").is_none(),
            "this machine cannot mount a tmpfs, which the disk-full tests need"
        );
        eprintln!("note: cannot mount a tmpfs here (not root?); the disk-full tests are not run");
        None
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Grows the filesystem, as freeing space would.
    fn grow(&self, mib: u32) {
        let status = Command::new("mount")
            .args(["-o", &format!("remount,size={mib}m")])
            .arg(self.path())
            .status()
            .expect("mount runs");
        assert!(status.success(), "remounting {}", self.path().display());
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

/// An N-Triples file of `quads` distinct quads, outside the small disk.
fn many_quads(dir: &Path, quads: usize) -> PathBuf {
    let path = dir.join("many.nt");
    let mut text = String::with_capacity(quads * 64);
    for i in 0..quads {
        text.push_str(&format!(
            "<http://e/s{i}> <http://e/p{}> \"value {i} {}\" .\n",
            i % 7,
            i.wrapping_mul(2_654_435_761) % 1_000_003
        ));
    }
    std::fs::write(&path, text).unwrap();
    path
}

fn count(dir: &Path, plugin: &str) -> String {
    run_plugin(dir, plugin, &["count"])
        .expect_success()
        .trim()
        .to_owned()
}

fn fill_the_disk_mid_load(plugin: &str) {
    let Some(disk) = SmallDisk::mount(8) else {
        return;
    };
    let inputs = tempfile::tempdir().unwrap();
    let big = many_quads(inputs.path(), 300_000);
    std::fs::write(
        disk.path().join("small.nt"),
        "<http://e/a> <http://e/p> \"one\" .\n<http://e/b> <http://e/p> \"two\" .\n",
    )
    .unwrap();
    run_plugin(disk.path(), plugin, &["load", "small.nt"]).expect_success();
    // Small chunks, so that the disk fills after some of them committed.
    let failed = run_plugin(
        disk.path(),
        plugin,
        &["load", "--chunk-quads", "20000", big.to_str().unwrap()],
    );
    let line = failed.expect_one_line_error(&[]);
    assert!(
        line.to_lowercase().contains("no space left on device"),
        "{line}"
    );
    // Either the committed chunks were undone, or the message says what stays and what to do.
    assert!(
        line.contains("nothing was loaded") || line.contains("until `kgdb-host recover`"),
        "{line}"
    );
    // Nothing but that line: no log lines with timestamps.
    assert_eq!(failed.stderr.lines().count(), 1, "{}", failed.stderr);
    // Reads work on the full disk; what they see is the store as it was, or (when the undo
    // could not be written) a refusal naming the interrupted load: never part of a load.
    let reading = run_plugin(disk.path(), plugin, &["count"]);
    if reading.code == Some(0) {
        assert_eq!(reading.stdout.trim(), "2", "{reading:#?}");
    } else {
        reading.expect_one_line_error(&[
            "a load into this store was interrupted",
            "kgdb-host recover",
        ]);
    }
    disk.grow(1024);
    run_plugin(disk.path(), plugin, &["recover"]).expect_success();
    assert_eq!(count(disk.path(), plugin), "2");
    run_plugin(disk.path(), plugin, &["verify"]).expect_success();
    // And it takes writes again.
    run_plugin(disk.path(), plugin, &["load", big.to_str().unwrap()]).expect_success();
    assert_eq!(count(disk.path(), plugin), "300002");
}

#[test]
fn lmdb_on_a_disk_that_fills_mid_load() {
    fill_the_disk_mid_load("kgdb_plugin_lmdb");
}

#[test]
fn rocksdb_on_a_disk_that_fills_mid_load() {
    fill_the_disk_mid_load("kgdb_plugin_rocksdb");
}

/// An ext4 filesystem in a file, loop-mounted (ext4 honours `fallocate` reservations, which
/// tmpfs does not), unmounted when dropped.
struct Ext4Disk {
    dir: TempDir,
    _image: TempDir,
}

impl Ext4Disk {
    /// `None` (outside CI) where this machine cannot make or mount one.
    fn mount(mib: u32) -> Option<Self> {
        let image_dir = tempfile::tempdir().expect("a scratch directory");
        let image = image_dir.path().join("disk.img");
        let dir = tempfile::tempdir().expect("a scratch directory");
        let made = std::fs::File::create(&image)
            .and_then(|file| file.set_len(u64::from(mib) << 20))
            .is_ok()
            && Command::new("mkfs.ext4")
                .args(["-q", "-F"])
                .arg(&image)
                .status()
                .is_ok_and(|status| status.success())
            && Command::new("mount")
                .args(["-o", "loop"])
                .arg(&image)
                .arg(dir.path())
                .status()
                .is_ok_and(|status| status.success());
        if made {
            return Some(Self {
                dir,
                _image: image_dir,
            });
        }
        assert!(
            std::env::var_os("CI").is_none(),
            "this machine cannot make and loop-mount an ext4 image, which this test needs"
        );
        eprintln!("note: cannot loop-mount an ext4 image here; the test is not run");
        None
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Ext4Disk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

/// RocksDB reserved 1.1 write buffers (~70 MB) ahead for every new log: with less free, even a
/// one-quad load failed. It reserves nothing ahead now.
#[test]
fn rocksdb_loads_with_little_free_space() {
    let Some(disk) = Ext4Disk::mount(96) else {
        return;
    };
    // Leave about 30 MB free.
    let filler = disk.path().join("filler");
    let status = Command::new("fallocate")
        .args(["-l", "50M"])
        .arg(&filler)
        .status()
        .expect("fallocate runs");
    assert!(status.success());
    std::fs::write(
        disk.path().join("one.nt"),
        "<http://e/a> <http://e/p> \"one\" .\n",
    )
    .unwrap();
    run_plugin(disk.path(), "kgdb_plugin_rocksdb", &["load", "one.nt"]).expect_success();
    assert_eq!(count(disk.path(), "kgdb_plugin_rocksdb"), "1");
}
