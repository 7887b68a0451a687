//! Tells the tests and benchmarks where the components built by gitsync-engine's build script lie
//! (`policies/builtin/`, `policies/examples/build/`). The binary itself never reads these folders: its
//! built-in components are embedded (see host/engine/build.rs).
//!
//! Also lists the plugin SDK's sources (gitsync-core, gitsync-guest-common, gitsync-sdk and the WIT)
//! for `include_str!`, so that `gitsync policy sdk` and `policy new` can write the SDK anywhere.

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
    sdk_files(&root);
}

/// `$OUT_DIR/sdk_files.rs`: `(path in the kit, contents)` for every source file of the SDK's crates
/// (their own test files left out: those tests run in this repository) and the WIT.
fn sdk_files(root: &std::path::Path) {
    let mut files = Vec::new();
    for dir in ["guest/core/src", "guest/common/src", "guest/sdk/src", "wit"] {
        println!("cargo:rerun-if-changed={}", root.join(dir).display());
        collect(root, &root.join(dir), &mut files);
    }
    files.sort();
    let mut out = String::from("pub const SDK_FILES: &[(&str, &str)] = &[\n");
    for rel in &files {
        out.push_str(&format!(
            "    ({rel:?}, include_str!({:?})),\n",
            root.join(rel).display().to_string()
        ));
    }
    out.push_str("];\n");
    let dest = std::path::Path::new(&std::env::var("OUT_DIR").unwrap()).join("sdk_files.rs");
    std::fs::write(dest, out).unwrap();
}

fn collect(root: &std::path::Path, dir: &std::path::Path, out: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if path.is_dir() {
            collect(root, &path, out);
        } else if (name.ends_with(".rs") || name.ends_with(".wit"))
            && name != "tests.rs"
            && !name.ends_with("_tests.rs")
        {
            out.push(path.strip_prefix(root).unwrap().to_string_lossy().replace('\\', "/"));
        }
    }
}
