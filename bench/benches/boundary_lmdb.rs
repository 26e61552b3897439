//! The plugin boundary's cost on the lmdb engine: see `boundary/mod.rs`.

mod boundary;

fn main() {
    boundary::run::<kgdb_plugin_lmdb::LmdbPlugin>("lmdb");
}
