//! Builds the built-in policy components from guest/ for wasm32-wasip2 and places them in
//! policies/builtin/, where the host loads them from. A fresh machine needs nothing but a Rust
//! toolchain with rustup: the wasm32-wasip2 target is added here when it is missing.

use std::path::{Path, PathBuf};
use std::process::Command;

const GUESTS: [(&str, &str); 4] = [
    ("gitsync-policy-schema", "schema"),
    ("gitsync-policy-aliases", "aliases"),
    ("gitsync-policy-deps", "deps"),
    ("gitsync-policy-contracts", "contracts"),
];
/// Example plugins (policies/examples/) and the test fixture plugin, built alongside.
const PLUGINS: [(&str, &str); 4] = [
    ("gitsync-plugin-naming", "naming"),
    ("gitsync-plugin-no-raw-sql-on-pii", "no-raw-sql-on-pii"),
    ("gitsync-plugin-paused-in-staging", "paused-in-staging"),
    ("gitsync-plugin-misbehaving", "misbehaving"),
];
const TARGET: &str = "wasm32-wasip2";

fn main() {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let root = manifest_dir.parent().unwrap().to_path_buf();
    for watched in [
        "guest",
        "wit",
        "Cargo.lock",
        "Cargo.toml",
        "policies/examples",
        "tests/fixtures",
    ] {
        println!("cargo:rerun-if-changed={}", root.join(watched).display());
    }
    println!("cargo:rerun-if-env-changed=GITSYNC_SKIP_GUEST_BUILD");
    let out_dir = root.join("policies").join("builtin");
    let plugin_dir = root.join("policies").join("examples").join("build");
    println!("cargo:rustc-env=GITSYNC_BUILTIN_POLICIES={}", out_dir.display());
    println!("cargo:rustc-env=GITSYNC_EXAMPLE_PLUGINS={}", plugin_dir.display());
    if std::env::var_os("GITSYNC_SKIP_GUEST_BUILD").is_some() {
        return;
    }
    ensure_target();

    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let target_dir = root.join("target").join("guests");
    let mut cmd = Command::new(cargo);
    cmd.current_dir(&root)
        .args([
            "build",
            "--locked",
            "--target",
            TARGET,
            "--profile",
            "guest",
            "--target-dir",
        ])
        .arg(&target_dir);
    for (package, _) in GUESTS.iter().chain(PLUGINS.iter()) {
        cmd.args(["-p", package]);
    }
    // The child must not inherit flags meant for the host build (they break a wasm build) or our
    // target dir (its lock is held by the parent build).
    for var in [
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "RUSTC_WORKSPACE_WRAPPER",
        "RUSTC_WRAPPER",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
    ] {
        cmd.env_remove(var);
    }
    let status = cmd
        .status()
        .expect("could not run cargo to build the policy components");
    if !status.success() {
        panic!("building the policy components for {TARGET} failed (see the cargo output above)");
    }
    std::fs::create_dir_all(&out_dir).expect("cannot create policies/builtin");
    std::fs::create_dir_all(&plugin_dir).expect("cannot create policies/examples/build");
    for (list, dir) in [(&GUESTS[..], &out_dir), (&PLUGINS[..], &plugin_dir)] {
        for (package, name) in list {
            let built = target_dir
                .join(TARGET)
                .join("guest")
                .join(format!("{}.wasm", package.replace('-', "_")));
            copy_if_changed(&built, &dir.join(format!("{name}.wasm")));
        }
    }
}

/// Add the wasm32-wasip2 target through rustup when the toolchain lacks it.
fn ensure_target() {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).lines().any(|l| l.trim() == TARGET));
    match installed {
        Ok(true) => {}
        Ok(false) => {
            let ok = Command::new("rustup")
                .args(["target", "add", TARGET])
                .status()
                .is_ok_and(|s| s.success());
            if !ok {
                panic!("`rustup target add {TARGET}` failed; run it by hand and build again");
            }
        }
        // No rustup: the toolchain was installed some other way; the build below says if the target is missing.
        Err(_) => println!("cargo:warning=rustup not found; assuming the {TARGET} target is installed"),
    }
}

fn copy_if_changed(from: &Path, to: &Path) {
    let new = std::fs::read(from).unwrap_or_else(|e| panic!("cannot read {}: {e}", from.display()));
    if std::fs::read(to).ok().as_deref() != Some(new.as_slice()) {
        std::fs::write(to, new).unwrap_or_else(|e| panic!("cannot write {}: {e}", to.display()));
    }
}
