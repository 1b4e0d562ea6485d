//! The `compile_fail` doc examples must fail for the reason they show. Stable rustdoc checks only
//! that a `compile_fail` example does not compile, not the error code written after it (e.g.
//! `compile_fail,E0502`), so a typo would make such an example "pass" forever. This test
//! compiles every one of them in a scratch crate, asserts that rustc reports exactly the error
//! code written in its fence, and compiles a control program that uses the same API correctly.
//! The examples of src/nats.rs (the NATS carrier's borrows of its store) need the feature `nats`:
//! with it the scratch crate enables it too, without it they are left out.

use std::path::{Path, PathBuf};
use std::process::Command;

struct Snippet {
    file: String,
    line: usize,
    code: String,
    body: String,
}

/// Finds the ```compile_fail,EXXXX blocks in the doc comments of src/**/*.rs.
fn snippets() -> Vec<Snippet> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files: Vec<PathBuf> =
        std::fs::read_dir(&src).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    let mut out = Vec::new();
    for path in files.into_iter().filter(|p| p.extension().is_some_and(|e| e == "rs")) {
        if !cfg!(feature = "nats") && path.file_name().is_some_and(|n| n == "nats.rs") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let mut i = 0;
        while i < lines.len() {
            let doc = strip_doc(lines[i]);
            if let Some(code) = doc.and_then(|d| d.trim().strip_prefix("```compile_fail")) {
                let code = code.trim_start_matches(',').trim().to_string();
                assert!(
                    code.starts_with('E'),
                    "{}:{}: write the expected error code",
                    path.display(),
                    i + 1
                );
                let start = i + 1;
                let mut body = String::new();
                i += 1;
                while let Some(d) = strip_doc(lines[i]) {
                    if d.trim() == "```" {
                        break;
                    }
                    // Hidden lines ("# ...") are part of the program.
                    let d = d.strip_prefix("# ").unwrap_or(if d == "#" { "" } else { d });
                    body.push_str(d);
                    body.push('\n');
                    i += 1;
                }
                out.push(Snippet {
                    file: path.file_name().unwrap().to_string_lossy().into_owned(),
                    line: start,
                    code,
                    body,
                });
            }
            i += 1;
        }
    }
    out
}

fn strip_doc(line: &str) -> Option<&str> {
    let t = line.trim_start();
    let rest = t.strip_prefix("///").or_else(|| t.strip_prefix("//!"))?;
    Some(rest.strip_prefix(' ').unwrap_or(rest))
}

/// A correct use of everything the compile_fail examples misuse: must build.
const CONTROL: &str = r#"
use podsync::{Schema, Store};
fn needs_send<T: Send>(_: &T) {}
let schema = Schema::new().table(1, 8, 8, &[]).unwrap();
let mut writer = Store::writer(&schema).unwrap();
let mut replica = Store::replica(&schema).unwrap();
let table = writer.table(1).unwrap();
println!("{}", table.len());
writer.put(1, 5, &[0u8; 8]).unwrap();
let record = writer.get(1, 5).unwrap().unwrap().to_vec();
writer.delete(1, 5).unwrap();
println!("{record:?}");
writer.flush().unwrap();
let frame = writer.frames().next().map(|f| f.to_vec());
writer.snapshot().unwrap();
println!("{:?}", frame.map(|f| f.len()));
let _ = replica.apply(writer.frame(0).unwrap());
replica.track_changes(true).unwrap();
let upserted = replica.changes(1).unwrap().upserted().to_vec();
let _ = replica.apply(&[0u8; 88]);
println!("{}", upserted.len());
let message = replica.summary(0).unwrap().next().unwrap().to_vec();
replica.summary(1).unwrap();
println!("{}", message.len());
let bytes = replica.dictionary().unwrap().map(|(_, b)| b.to_vec());
let _ = replica.load_dictionary(&[0u8; 8]);
println!("{:?}", bytes.map(|b| b.len()));
needs_send(&writer);
let mut snapshot = writer.begin_snapshot(0).unwrap();
let first = snapshot.next_chunk(&mut writer).unwrap().map(|c| c.to_vec());
let second = snapshot.next_chunk(&mut writer).unwrap().map(|c| c.to_vec());
println!("{first:?} {second:?}");
needs_send(&snapshot);
let chunks = writer.snapshot_chunks(0).unwrap().count();
writer.put(1, 5, &[0u8; 8]).unwrap();
println!("{chunks}");
let dir = std::env::temp_dir().join("podsync-compile-fail-checkpoint");
let (mut durable, _) = Store::<podsync::Writer>::open(&dir, Some(&schema),
    &podsync::StoreOptions::new(), &podsync::Durability::new()).unwrap();
let checkpoint = durable.begin_checkpoint().unwrap();
needs_send(&checkpoint);
let (bytes, _) = podsync::Subscription::new().table(1).encode().unwrap();
let feed = writer.feed(&bytes).unwrap();
let count = feed.table(1).unwrap().len();
writer.flush().unwrap();
println!("{count}");
let mut relay = Store::replica(&schema).unwrap();
let feed = relay.feed(&bytes).unwrap();
let count = feed.table(1).unwrap().len();
let _ = relay.apply(&[0u8; 88]);
println!("{count}");
let feed = writer.feed(&bytes).unwrap();
println!("{:?}", feed.subscription().unwrap().map(|(_, hash)| hash));
"#;

/// A correct use of everything the compile_fail examples of src/nats.rs misuse (feature `nats`):
/// must build (it is not run).
const CONTROL_NATS: &str = r#"
use podsync::nats::{Follower, NatsOptions, Publisher};
use podsync::{Schema, Store};
fn needs_send<T: Send>(_: &T) {}
let schema = Schema::new().table(1, 8, 8, &[]).unwrap();
let mut writer = Store::writer(&schema).unwrap();
let mut replica = Store::replica(&schema).unwrap();
let options = NatsOptions::new();
let mut publisher = Publisher::new(&mut writer, "nats://127.0.0.1:4222", "world", &options).unwrap();
publisher.store_mut().put(1, 5, &[0u8; 8]).unwrap();
let record = publisher.store().get(1, 5).unwrap().map(|r| r.to_vec());
publisher.flush().unwrap();
println!("{record:?}");
needs_send(&publisher);
drop(publisher);
writer.put(1, 5, &[0u8; 8]).unwrap();
let mut follower = Follower::new(&mut replica, "nats://127.0.0.1:4222", "world", &options).unwrap();
follower.poll(std::time::Duration::ZERO).unwrap();
needs_send(&follower);
let digest = follower.store().digest().unwrap();
drop(follower);
drop(replica);
drop(writer);
println!("{digest}");
"#;

#[test]
fn compile_fail_examples_fail_with_the_error_code_they_name() {
    let snippets = snippets();
    assert!(snippets.len() >= 10, "found {} compile_fail examples", snippets.len());

    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("compile_fail");
    let examples = dir.join("examples");
    std::fs::create_dir_all(&examples).unwrap();
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(dir.join("src/lib.rs"), "").unwrap();
    std::fs::write(
        dir.join("Cargo.toml"),
        format!(
            "[package]\nname = \"podsync-compile-fail\"\nversion = \"0.0.0\"\nedition = \"2024\"\npublish = false\n\n\
             [dependencies]\npodsync = {{ path = {:?}{} }}\n\n[workspace]\n",
            env!("CARGO_MANIFEST_DIR"),
            if cfg!(feature = "nats") { ", features = [\"nats\"]" } else { "" }
        ),
    )
    .unwrap();
    let program = |body: &str| format!("#![allow(unused)]\nfn main() {{\n{body}}}\n");
    std::fs::write(examples.join("control.rs"), program(CONTROL)).unwrap();
    if cfg!(feature = "nats") {
        std::fs::write(examples.join("control_nats.rs"), program(CONTROL_NATS)).unwrap();
    }
    for (n, s) in snippets.iter().enumerate() {
        std::fs::write(examples.join(format!("snippet{n}.rs")), program(&s.body)).unwrap();
    }

    let build = |name: &str| {
        let out = Command::new(env!("CARGO"))
            .args(["build", "--offline", "--quiet", "--example", name])
            .current_dir(&dir)
            .env("CARGO_TARGET_DIR", dir.join("target"))
            .output()
            .expect("run cargo");
        (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned())
    };

    let (ok, stderr) = build("control");
    assert!(ok, "the control program must compile:\n{stderr}");
    if cfg!(feature = "nats") {
        let (ok, stderr) = build("control_nats");
        assert!(ok, "the control program of the NATS carrier must compile:\n{stderr}");
        assert!(snippets.iter().filter(|s| s.file == "nats.rs").count() >= 6);
    }

    for (n, s) in snippets.iter().enumerate() {
        let (ok, stderr) = build(&format!("snippet{n}"));
        let mut codes: Vec<&str> =
            stderr.match_indices("error[E").map(|(i, _)| &stderr[i + 6..i + 11]).collect();
        codes.sort();
        codes.dedup();
        assert!(!ok, "{}:{}: compiled, but is marked compile_fail", s.file, s.line);
        assert_eq!(
            codes,
            [s.code.as_str()],
            "{}:{}: expected only error {}, rustc said:\n{stderr}",
            s.file,
            s.line,
            s.code
        );
    }
}
