//! The plugin boundary's cost on the memory engine: see `boundary/mod.rs`.

mod boundary;

fn main() {
    boundary::run::<kgdb_plugin_memory::MemoryPlugin>("memory");
}
