//! Where users already run checks: the pre-commit hook (`.pre-commit-hooks.yaml`) through the real
//! pre-commit, and the composite GitHub Action (`action.yml`) against the GitHub Actions schema.
//! Both tools come from PyPI, pinned (tests/support/python-tools/requirements.txt).

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

fn tool(name: &str) -> PathBuf {
    testdata("python-tools").join("bin").join(name)
}

/// `pre-commit try-repo <this repository> gitsync-validate` in `repo`, with the built gitsync first on
/// PATH (the hook's script uses it rather than building one).
fn pre_commit(repo: &Path, home: &Path) -> Run {
    let bin_dir = Path::new(bin()).parent().unwrap();
    let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap_or_default());
    let out = Command::new(tool("pre-commit"))
        .args([
            "try-repo",
            root().to_str().unwrap(),
            "gitsync-validate",
            "--color",
            "never",
        ])
        .current_dir(repo)
        .env("PATH", path)
        .env("PRE_COMMIT_HOME", home)
        .env("GITSYNC_CACHE_DIR", shared_cache())
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn the_pre_commit_hook_fails_on_a_broken_file_and_passes_once_fixed() {
    let repo = Repo::acme();
    repo.git(&["init", "-q"]);
    repo.git(&["add", "-A"]);
    repo.git(&["commit", "-q", "-m", "acme"]);
    let home = scratch("pre-commit-home");

    // A new model, staged with a typo in a field name: the commit is refused with the diagnostic.
    let model =
        "name: Stock\nSource: warehouse\ntype: table\ntableName: public.stock\nisSchema: false\nprimaryKey: id\n";
    repo.write("models/stock.yaml", model);
    repo.git(&["add", "-A"]);
    let r = pre_commit(&repo.dir, &home);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("gitsync validate"), "{}", r.stdout);
    assert!(r.stdout.contains("Failed"), "{}", r.stdout);
    assert!(
        r.stdout.contains("error[GS101]: unknown field `Source`"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("--> models/stock.yaml:2:1"), "{}", r.stdout);

    // Fixed and staged again: it passes.
    repo.write("models/stock.yaml", model.replace("Source:", "source:"));
    repo.git(&["add", "-A"]);
    let r = pre_commit(&repo.dir, &home);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("Passed"), "{}", r.stdout);
}

#[test]
fn the_action_is_a_valid_github_action() {
    let check = |file: &Path| {
        Command::new(tool("check-jsonschema"))
            .args(["--builtin-schema", "vendor.github-actions"])
            .arg(file)
            .output()
            .unwrap()
    };
    let out = check(&root().join("action.yml"));
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // The validator is really consulted: a step without `shell` is refused.
    let broken = scratch("action").join("action.yml");
    let text = std::fs::read_to_string(root().join("action.yml")).unwrap();
    std::fs::write(&broken, text.replace("      shell: bash\n", "")).unwrap();
    assert!(!check(&broken).status.success());
    // It runs `check` with annotations and the markdown job summary, from a cached install.
    for needle in [
        "uses: actions/cache@v4",
        "cargo install --locked --path \"$GITHUB_ACTION_PATH/host\"",
        "check --base \"$BASE\" --path \"$SUBFOLDER\" --format github",
        "--format markdown >> \"$GITHUB_STEP_SUMMARY\"",
    ] {
        assert!(text.contains(needle), "action.yml lacks {needle}");
    }
}
