//! Tidy checks over the source tree: the Raft core stays IO-free, every source file says what it is for, and
//! every recorded history carries its expected verdict in its path.

use std::fs;
use std::path::{Path, PathBuf};

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests package sits inside the workspace")
        .to_path_buf()
}

fn files_under(dir: &Path, extension: &str, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            files_under(&path, extension, out);
        } else if path.extension().is_some_and(|e| e == extension) {
            out.push(path);
        }
    }
}

/// Lines of code outside comments (good enough for the forbidden-import check).
fn code_lines(text: &str) -> impl Iterator<Item = &str> {
    text.lines()
        .map(str::trim_start)
        .filter(|l| !l.starts_with("//"))
}

#[test]
fn raft_core_is_io_free() {
    let mut files = Vec::new();
    files_under(&workspace_root().join("server/src/raft"), "rs", &mut files);
    assert!(!files.is_empty(), "server/src/raft has no Rust files");
    let forbidden = [
        "tokio",
        "tarpc",
        "std::time",
        "Instant::now",
        "SystemTime",
        "thread_rng",
        "std::fs",
        "std::net",
        "std::thread",
        "HashMap",
        "HashSet",
    ];
    let mut offences = Vec::new();
    for file in &files {
        let text = fs::read_to_string(file).expect("source files are readable");
        for (number, line) in code_lines(&text).enumerate() {
            for word in forbidden {
                if line.contains(word) {
                    offences.push(format!("{}: `{word}` in: {line}", file.display()));
                }
            }
            let _ = number;
        }
    }
    assert!(
        offences.is_empty(),
        "the Raft core must stay deterministic and IO-free:\n{}",
        offences.join("\n")
    );
}

#[test]
fn every_source_file_starts_with_a_module_doc() {
    let root = workspace_root();
    let mut files = Vec::new();
    for dir in [
        "server/src",
        "checker/src",
        "harness/src",
        "tests/src",
        "tests/tests",
    ] {
        files_under(&root.join(dir), "rs", &mut files);
    }
    let missing: Vec<String> = files
        .iter()
        .filter(|f| {
            let text = fs::read_to_string(f).unwrap_or_default();
            !text.trim_start().starts_with("//!")
        })
        .map(|f| f.display().to_string())
        .collect();
    assert!(
        missing.is_empty(),
        "files without a //! module doc:\n{}",
        missing.join("\n")
    );
}

#[test]
fn every_history_has_a_verdict_in_its_path() {
    let root = workspace_root().join("histories");
    let mut files = Vec::new();
    files_under(&root, "jsonl", &mut files);
    let without: Vec<String> = files
        .iter()
        .filter(|f| {
            let rel = f.strip_prefix(&root).expect("found under histories/");
            let first = rel
                .components()
                .next()
                .map(|c| c.as_os_str().to_string_lossy().to_string());
            match first.as_deref() {
                Some("ok") | Some("bad") => false,
                Some("regressions") => !rel
                    .components()
                    .any(|c| matches!(c.as_os_str().to_str(), Some("ok") | Some("bad"))),
                _ => true,
            }
        })
        .map(|f| f.display().to_string())
        .collect();
    assert!(
        without.is_empty(),
        "histories must live under ok/, bad/ or regressions/**/{{ok,bad}}/:\n{}",
        without.join("\n")
    );
}
