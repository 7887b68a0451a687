//! The `gitsync` binary: wiring only.

fn main() {
    std::process::exit(gitsync::run());
}
