//! Finds libpodsync.so and tells rustc to link it.
//!
//! Search order:
//!   1. `$PODSYNC_LIB_DIR` if set (absolute, or relative to the repository root). It must then
//!      contain libpodsync.so: an explicit setting that is wrong is an error, never silently
//!      replaced by another library;
//!   2. an installed PodSync, through `pkg-config` (the command; `$PKG_CONFIG` names another):
//!      `make install PREFIX=<prefix>` writes `<prefix>/lib/pkgconfig/podsync.pc`, which
//!      pkg-config finds in its default directories or through `PKG_CONFIG_PATH`. Used when its
//!      `libdir` holds libpodsync.so, its `abi_version` is the ABI this crate declares and its
//!      version is at least this crate's MAJOR.MINOR.0; otherwise the next place is tried.
//!      `PODSYNC_NO_PKG_CONFIG=1` skips this step, and so does cross-compiling unless
//!      `PKG_CONFIG_ALLOW_CROSS=1`;
//!   3. the repository's release build tree, `<repo>/.build/release` (this crate lives in
//!      `<repo>/bindings/rust/podsync-sys`), which `bash .ci/build-lib` fills.
//!
//! Emits the link search path, `dylib=podsync`, an rpath for this crate's own tests (not for a
//! library pkg-config found in a default loader directory such as /usr/lib), and the metadata
//! `lib_dir` (seen by dependents' build scripts as `DEP_PODSYNC_LIB_DIR`) so that the `podsync`
//! crate can set the same rpath for its tests, examples and doc tests: Cargo applies
//! `rustc-link-arg` only to the targets of the package whose build script printed it. A program
//! of another package that uses an installed PodSync outside the loader's default directories
//! therefore needs its own rpath (`RUSTFLAGS="-C link-arg=-Wl,-rpath,<prefix>/lib"`), or
//! `LD_LIBRARY_PATH`, or `ldconfig` for that directory.
//!
//! With the feature `nats` (the NATS JetStream carrier, include/podsync_nats.h) it also finds
//! libpodsync_nats.so and links `dylib=podsync_nats`. Search order:
//!   1. `$PODSYNC_NATS_LIB_DIR` if set (absolute, or relative to the repository root); like
//!      `PODSYNC_LIB_DIR`, a setting that is wrong is an error;
//!   2. the directory where libpodsync.so was found (the carrier is built beside it);
//!   3. the repository's release build tree, `<repo>/.build/release` (`bash .ci/build-lib` builds
//!      it there when libnats is installed).
//!
//! It emits the search path, an rpath (unless the directory is one the loader searches anyway)
//! and the metadata `nats_lib_dir` (`DEP_PODSYNC_NATS_LIB_DIR` for the `podsync` crate's build
//! script).

use std::env;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

const LIB_FILE: &str = "libpodsync.so";
/// The NATS carrier's library (feature `nats`).
const NATS_LIB_FILE: &str = "libpodsync_nats.so";
/// `PODSYNC_ABI_VERSION` of the header whose declarations src/lib.rs follows.
const ABI_VERSION: &str = "1";
/// Directories the dynamic loader searches anyway: no rpath for a library found there.
const LOADER_DIRS: &[&str] = &[
    "/lib",
    "/lib64",
    "/usr/lib",
    "/usr/lib64",
    "/usr/lib/x86_64-linux-gnu",
    "/usr/lib/aarch64-linux-gnu",
];

/// Where the library was found.
struct Found {
    dir: PathBuf,
    rpath: bool,
}

fn main() {
    for var in [
        "PODSYNC_LIB_DIR",
        "PODSYNC_NO_PKG_CONFIG",
        "PKG_CONFIG",
        "PKG_CONFIG_PATH",
        "PKG_CONFIG_LIBDIR",
        "PKG_CONFIG_SYSROOT_DIR",
        "PKG_CONFIG_ALLOW_CROSS",
    ] {
        println!("cargo::rerun-if-env-changed={var}");
    }
    println!("cargo::rerun-if-changed=build.rs");

    let manifest_dir =
        PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    // <repo>/bindings/rust/podsync-sys -> <repo>; canonicalized so messages show a clean path.
    let repo_root = manifest_dir.join("../../..");
    let repo_root = repo_root.canonicalize().unwrap_or(repo_root);
    let repo_tree = repo_root.join(".build/release");

    let mut tried = Vec::new();
    let found = match env::var_os("PODSYNC_LIB_DIR") {
        Some(value) if !value.is_empty() => {
            // Relative values are taken from the repository root (where the .ci scripts run),
            // not from this crate's directory (where Cargo runs build scripts).
            let dir = repo_root.join(PathBuf::from(value));
            tried.push(format!(
                "PODSYNC_LIB_DIR={}: {}",
                dir.display(),
                describe(&dir.join(LIB_FILE))
            ));
            // An explicit setting that is wrong is an error: no other place is tried.
            has_lib(&dir).then_some(Found { dir, rpath: true })
        }
        _ => {
            tried.push("PODSYNC_LIB_DIR: not set".to_string());
            let from_pkg_config = match pkg_config() {
                Ok(found) => Some(found),
                Err(why) => {
                    tried.push(format!("pkg-config: {why}"));
                    None
                }
            };
            from_pkg_config.or_else(|| {
                tried.push(format!(
                    "repository build tree: {}",
                    describe(&repo_tree.join(LIB_FILE))
                ));
                has_lib(&repo_tree).then(|| Found { dir: repo_tree.clone(), rpath: true })
            })
        }
    };

    let Some(found) = found else {
        // Watch the default location so that building the library makes the next cargo run retry.
        println!("cargo::rerun-if-changed={}", repo_tree.join(LIB_FILE).display());
        let mut msg = String::from("podsync-sys: cannot find libpodsync.so. Tried:");
        for t in &tried {
            msg.push_str("\n  - ");
            msg.push_str(t);
        }
        msg.push_str(
            "\nInstall PodSync (`make install PREFIX=<prefix>` from its repository; then \
             PKG_CONFIG_PATH=<prefix>/lib/pkgconfig unless pkg-config searches there already), or \
             build it in the repository with `bash .ci/build-lib` (it produces \
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
    let dir_str = found.dir.to_str().unwrap_or_else(|| {
        eprintln!("podsync-sys: library directory {} is not valid UTF-8", found.dir.display());
        std::process::exit(1)
    });
    println!("cargo::rustc-link-search=native={dir_str}");
    println!("cargo::rustc-link-lib=dylib=podsync");
    if found.rpath {
        // For this crate's own tests and doc tests; dependents read DEP_PODSYNC_LIB_DIR.
        println!("cargo::rustc-link-arg=-Wl,-rpath,{dir_str}");
    }
    println!("cargo::metadata=lib_dir={dir_str}");

    if env::var_os("CARGO_FEATURE_NATS").is_some() {
        link_nats(&repo_root, &repo_tree, &found);
    }
}

/// Feature `nats`: finds libpodsync_nats.so (see the module's documentation) and links it, or
/// fails the build saying where it looked.
fn link_nats(repo_root: &Path, repo_tree: &Path, podsync: &Found) {
    let podsync_dir = podsync.dir.as_path();
    println!("cargo::rerun-if-env-changed=PODSYNC_NATS_LIB_DIR");
    let mut tried = Vec::new();
    let found = match env::var_os("PODSYNC_NATS_LIB_DIR") {
        Some(value) if !value.is_empty() => {
            let dir = repo_root.join(PathBuf::from(value));
            tried.push(format!(
                "PODSYNC_NATS_LIB_DIR={}: {}",
                dir.display(),
                describe(&dir.join(NATS_LIB_FILE))
            ));
            // An explicit setting that is wrong is an error: no other place is tried.
            dir.join(NATS_LIB_FILE).is_file().then_some(dir)
        }
        _ => {
            tried.push("PODSYNC_NATS_LIB_DIR: not set".to_string());
            let mut candidates = vec![podsync_dir.to_path_buf()];
            if podsync_dir != repo_tree {
                candidates.push(repo_tree.to_path_buf());
            }
            candidates.into_iter().find(|dir| {
                let path = dir.join(NATS_LIB_FILE);
                tried.push(describe(&path));
                path.is_file()
            })
        }
    };
    let Some(dir) = found else {
        println!("cargo::rerun-if-changed={}", repo_tree.join(NATS_LIB_FILE).display());
        let mut msg = String::from(
            "podsync-sys (feature `nats`): cannot find libpodsync_nats.so, the NATS carrier. Tried:",
        );
        for t in &tried {
            msg.push_str("\n  - ");
            msg.push_str(t);
        }
        msg.push_str(
            "\nBuild it in the repository with `bash .ci/build-lib` (it needs libnats: \
             apt-get install libnats-dev; it produces .build/release/libpodsync_nats.so), or set \
             PODSYNC_NATS_LIB_DIR to the directory holding it, or build without the feature `nats`.",
        );
        for line in msg.lines() {
            println!("cargo::error={line}");
        }
        eprintln!("{msg}");
        std::process::exit(1);
    };
    let dir_str = dir.to_str().unwrap_or_else(|| {
        eprintln!("podsync-sys: library directory {} is not valid UTF-8", dir.display());
        std::process::exit(1)
    });
    if dir != podsync_dir {
        println!("cargo::rustc-link-search=native={dir_str}");
    }
    println!("cargo::rustc-link-lib=dylib=podsync_nats");
    // Beside libpodsync.so, its rpath (if any) serves both.
    let rpath_given = dir == podsync_dir && podsync.rpath;
    if !rpath_given && !LOADER_DIRS.iter().any(|d| Path::new(d) == dir) {
        println!("cargo::rustc-link-arg=-Wl,-rpath,{dir_str}");
    }
    println!("cargo::metadata=nats_lib_dir={dir_str}");
}

/// Asks pkg-config for an installed PodSync. `Err` says why none was taken (for the error message
/// when no place has the library).
fn pkg_config() -> Result<Found, String> {
    if env::var_os("PODSYNC_NO_PKG_CONFIG").is_some_and(|v| !v.is_empty()) {
        return Err("skipped (PODSYNC_NO_PKG_CONFIG is set)".to_string());
    }
    let (target, host) =
        (env::var("TARGET").unwrap_or_default(), env::var("HOST").unwrap_or_default());
    if target != host && env::var("PKG_CONFIG_ALLOW_CROSS").as_deref() != Ok("1") {
        return Err(format!(
            "skipped when cross-compiling ({host} -> {target}) unless PKG_CONFIG_ALLOW_CROSS=1"
        ));
    }
    let program =
        env::var_os("PKG_CONFIG").filter(|p| !p.is_empty()).unwrap_or_else(|| "pkg-config".into());
    let run = |args: &[&str]| -> Result<String, String> {
        let out = Command::new(&program)
            .args(args)
            .arg("podsync")
            .output()
            .map_err(|e| format!("cannot run `{}`: {e}", program.to_string_lossy()))?;
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let first =
                stderr.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("no message");
            return Err(format!(
                "`{} {} podsync` failed: {first} (PKG_CONFIG_PATH={})",
                program.to_string_lossy(),
                args.join(" "),
                env_display("PKG_CONFIG_PATH")
            ));
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    };

    let version = run(&["--modversion"])?;
    // Watch the .pc file (pkg-config >= 0.29 and pkgconf know --path), so a new install is seen.
    let pc_file = run(&["--path"]).ok().filter(|p| !p.is_empty());
    if let Some(pc) = &pc_file {
        println!("cargo::rerun-if-changed={pc}");
    }
    let pc = pc_file.as_deref().unwrap_or("podsync.pc");

    let abi = run(&["--variable=abi_version"])?;
    if !abi.is_empty() && abi != ABI_VERSION {
        return Err(format!(
            "{pc} is PodSync {version} of ABI version {abi}; this crate declares ABI version {ABI_VERSION}"
        ));
    }
    let minimum = minimum_library_version();
    if run(&[&format!("--atleast-version={minimum}")]).is_err() {
        return Err(format!("{pc} is PodSync {version}; this crate needs {minimum} or newer"));
    }
    let libdir = run(&["--variable=libdir"])?;
    if libdir.is_empty() {
        return Err(format!("{pc} defines no libdir"));
    }
    let dir = PathBuf::from(&libdir);
    if !has_lib(&dir) {
        return Err(format!("{pc} (PodSync {version}): {}", describe(&dir.join(LIB_FILE))));
    }
    // `--libs` must work too (it is what a C build would use); its -L directories are searched
    // before libdir's, and anything else it names is linked as well.
    for flag in run(&["--libs"])?.split_whitespace() {
        if let Some(search) = flag.strip_prefix("-L") {
            if Path::new(search) != dir {
                println!("cargo::rustc-link-search=native={search}");
            }
        } else if let Some(lib) = flag.strip_prefix("-l") {
            if lib != "podsync" {
                println!("cargo::rustc-link-lib={lib}");
            }
        }
    }
    println!("cargo::rerun-if-changed={}", dir.join(LIB_FILE).display());
    let rpath = !LOADER_DIRS.iter().any(|d| Path::new(d) == dir);
    Ok(Found { dir, rpath })
}

/// MAJOR.MINOR.0 of this crate's version: the crates are versioned with the library whose
/// declarations they carry, so an installed library must be at least that release.
fn minimum_library_version() -> String {
    let version = env::var("CARGO_PKG_VERSION").unwrap_or_default();
    let mut parts = version.split('.');
    match (parts.next(), parts.next()) {
        (Some(major), Some(minor)) => format!("{major}.{minor}.0"),
        _ => "0".to_string(),
    }
}

fn env_display(var: &str) -> String {
    env::var_os(var)
        .map_or_else(|| "unset".to_string(), |v: OsString| v.to_string_lossy().into_owned())
}

fn has_lib(dir: &Path) -> bool {
    dir.join(LIB_FILE).is_file()
}

fn describe(path: &Path) -> String {
    let state = if path.is_file() { "found" } else { "not found" };
    format!("{} ({state})", path.display())
}
