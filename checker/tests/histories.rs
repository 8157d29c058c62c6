//! Every history under `histories/` is checked with the kv model and must get the verdict its path
//! names (`ok/` or `bad/`, also under `regressions/<name>/`).

use checker::history::History;
use checker::models::Kv;
use checker::{check_history, CheckOptions, Verdict};
use std::path::{Path, PathBuf};

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            files(&path, out);
        } else if path.extension().is_some_and(|e| e == "jsonl") {
            out.push(path);
        }
    }
}

fn expected(root: &Path, path: &Path) -> Verdict {
    let relative = path.strip_prefix(root).expect("under histories/");
    let verdicts: Vec<Verdict> = relative
        .components()
        .filter_map(|c| match c.as_os_str().to_str() {
            Some("ok") => Some(Verdict::Ok),
            Some("bad") => Some(Verdict::Illegal),
            _ => None,
        })
        .collect();
    assert_eq!(
        verdicts.len(),
        1,
        "{}: exactly one ok/ or bad/ in the path",
        path.display()
    );
    verdicts[0]
}

#[test]
fn every_history_gets_the_verdict_of_its_directory() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../histories");
    let mut all = Vec::new();
    files(&root, &mut all);
    assert!(
        all.len() >= 8,
        "histories/ holds the hand-made examples, found {}",
        all.len()
    );
    let mut seen = [0; 2];
    for path in all {
        let text = std::fs::read_to_string(&path).expect("readable");
        let history =
            History::from_jsonl_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let result = check_history(&Kv, &history, &CheckOptions::default())
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let want = expected(&root, &path);
        assert_eq!(result.verdict, want, "{}", path.display());
        seen[usize::from(want == Verdict::Illegal)] += 1;
    }
    assert!(
        seen[0] > 0 && seen[1] > 0,
        "both verdicts are represented: {seen:?}"
    );
}
