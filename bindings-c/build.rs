//! Regenerates `include/copilot.h` from the crate's exports with cbindgen. The header is
//! committed; `test.sh` fails when a build changes it.
fn main() {
    let dir = std::path::PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let config = cbindgen::Config::from_file(dir.join("cbindgen.toml")).expect("read cbindgen.toml");
    let bindings = cbindgen::Builder::new()
        .with_crate(&dir)
        .with_config(config)
        .generate()
        .expect("cbindgen could not generate the header");
    // write_to_file leaves an identical file untouched (no needless rebuilds of C users).
    bindings.write_to_file(dir.join("include/copilot.h"));
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    // A hand edit of the header is overwritten (and then shows up as drift in test.sh).
    println!("cargo:rerun-if-changed=include/copilot.h");
}
