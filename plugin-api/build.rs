//! Records the target triple so a plugin can report what it was built for.
fn main() {
    let target = std::env::var("TARGET").unwrap_or_else(|_| "unknown".to_owned());
    println!("cargo:rustc-env=KGDB_PLUGIN_API_TARGET={target}");
    println!("cargo:rerun-if-changed=build.rs");
}
