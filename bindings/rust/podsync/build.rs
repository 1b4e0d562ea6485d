//! Sets the rpath of this crate's tests, examples and doc tests to the directory where
//! `podsync-sys` found libpodsync.so (Cargo applies `rustc-link-arg` only to the targets of the
//! package whose build script prints it, so the `-sys` crate's rpath does not reach us), and with
//! the feature `nats` to the directory where it found libpodsync_nats.so too.
fn main() {
    println!("cargo::rerun-if-env-changed=DEP_PODSYNC_LIB_DIR");
    println!("cargo::rerun-if-env-changed=DEP_PODSYNC_NATS_LIB_DIR");
    let lib_dir = std::env::var("DEP_PODSYNC_LIB_DIR").ok();
    if let Some(dir) = &lib_dir {
        println!("cargo::rustc-link-arg=-Wl,-rpath,{dir}");
    }
    if let Ok(dir) = std::env::var("DEP_PODSYNC_NATS_LIB_DIR") {
        if lib_dir.as_deref() != Some(dir.as_str()) {
            println!("cargo::rustc-link-arg=-Wl,-rpath,{dir}");
        }
    }
}
