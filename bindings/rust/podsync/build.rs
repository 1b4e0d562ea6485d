//! Sets the rpath of this crate's tests, examples and doc tests to the directory where
//! `podsync-sys` found libpodsync.so (Cargo applies `rustc-link-arg` only to the targets of the
//! package whose build script prints it, so the `-sys` crate's rpath does not reach us).
fn main() {
    println!("cargo::rerun-if-env-changed=DEP_PODSYNC_LIB_DIR");
    if let Ok(dir) = std::env::var("DEP_PODSYNC_LIB_DIR") {
        println!("cargo::rustc-link-arg=-Wl,-rpath,{dir}");
    }
}
