//! Tells the tests and benchmarks where the components built by gitsync-engine's build script lie
//! (`policies/builtin/`, `policies/examples/build/`). The binary itself never reads these folders: its
//! built-in components are embedded (see host/engine/build.rs).

fn main() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf();
    let policies = root.join("policies");
    println!(
        "cargo:rustc-env=GITSYNC_BUILTIN_POLICIES={}",
        policies.join("builtin").display()
    );
    println!(
        "cargo:rustc-env=GITSYNC_EXAMPLE_PLUGINS={}",
        policies.join("examples").join("build").display()
    );
}
