//! The plugin boundary's cost on the rocksdb engine: see `boundary/mod.rs`.

mod boundary;

fn main() {
    boundary::run::<kgdb_plugin_rocksdb::RocksPlugin>("rocksdb");
}
