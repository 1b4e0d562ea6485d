//! Finds libpodsync.so and tells rustc to link it.
//!
//! Search order:
//!   1. `$PODSYNC_LIB_DIR` if set (absolute, or relative to the repository root). It must then
//!      contain libpodsync.so: an explicit setting that is wrong is an error, never silently
//!      replaced by another library;
//!   2. the repository's release build tree, `<repo>/.build/release` (this crate lives in
//!      `<repo>/bindings/rust/podsync-sys`), which `bash .ci/build-lib` fills.
//!
//! Emits the link search path, `dylib=podsync`, an rpath for this crate's own tests, and the
//! metadata `lib_dir` (seen by dependents' build scripts as `DEP_PODSYNC_LIB_DIR`) so that the
//! `podsync` crate can set the same rpath for its tests, examples and doc tests: Cargo applies
//! `rustc-link-arg` only to the targets of the package whose build script printed it.

use std::env;
use std::path::{Path, PathBuf};

const LIB_FILE: &str = "libpodsync.so";

fn main() {
    println!("cargo::rerun-if-env-changed=PODSYNC_LIB_DIR");
    println!("cargo::rerun-if-changed=build.rs");

    let manifest_dir =
        PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    // <repo>/bindings/rust/podsync-sys -> <repo>; canonicalized so messages show a clean path.
    let repo_root = manifest_dir.join("../../..");
    let repo_root = repo_root.canonicalize().unwrap_or(repo_root);
    let repo_tree = repo_root.join(".build/release");

    let (dir, tried) = match env::var_os("PODSYNC_LIB_DIR") {
        Some(value) if !value.is_empty() => {
            // Relative values are taken from the repository root (where the .ci scripts run),
            // not from this crate's directory (where Cargo runs build scripts).
            let dir = repo_root.join(PathBuf::from(value));
            let tried = vec![format!(
                "PODSYNC_LIB_DIR={}: {}",
                dir.display(),
                describe(&dir.join(LIB_FILE))
            )];
            (has_lib(&dir).then_some(dir), tried)
        }
        _ => {
            let tried = vec![
                "PODSYNC_LIB_DIR: not set".to_string(),
                format!("repository build tree: {}", describe(&repo_tree.join(LIB_FILE))),
            ];
            (has_lib(&repo_tree).then_some(repo_tree.clone()), tried)
        }
    };

    let Some(dir) = dir else {
        // Watch the default location so that building the library makes the next cargo run retry.
        println!("cargo::rerun-if-changed={}", repo_tree.join(LIB_FILE).display());
        let mut msg = String::from("podsync-sys: cannot find libpodsync.so. Tried:");
        for t in &tried {
            msg.push_str("\n  - ");
            msg.push_str(t);
        }
        msg.push_str(
            "\nBuild it from the repository root with `bash .ci/build-lib` (it produces \
             .build/release/libpodsync.so), or set PODSYNC_LIB_DIR to the directory holding it.",
        );
        for line in msg.lines() {
            println!("cargo::error={line}");
        }
        eprintln!("{msg}");
        std::process::exit(1);
    };

    // Not canonicalized: .build/release is a symlink SwiftPM may point elsewhere later, and the
    // rpath should follow it.
    let dir_str = dir.to_str().unwrap_or_else(|| {
        eprintln!("podsync-sys: library directory {} is not valid UTF-8", dir.display());
        std::process::exit(1)
    });
    println!("cargo::rustc-link-search=native={dir_str}");
    println!("cargo::rustc-link-lib=dylib=podsync");
    // For this crate's own tests and doc tests; dependents read DEP_PODSYNC_LIB_DIR.
    println!("cargo::rustc-link-arg=-Wl,-rpath,{dir_str}");
    println!("cargo::metadata=lib_dir={dir_str}");
}

fn has_lib(dir: &Path) -> bool {
    dir.join(LIB_FILE).is_file()
}

fn describe(path: &Path) -> String {
    let state = if path.is_file() { "found" } else { "not found" };
    format!("{} ({state})", path.display())
}
