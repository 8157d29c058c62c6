//! The run store: every `harness test` run gets a folder `store/<test-name>/<timestamp>/` holding its
//! history, results, report, configuration and node logs; `store/latest` points at the newest run.
//! Timestamps are UTC `YYYYMMDDTHHMMSS.mmm` and a run never reuses another run's folder.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// The file names inside a run folder.
pub mod files {
    /// The recorded history (JSON Lines).
    pub const HISTORY: &str = "history.jsonl";
    /// The verdict, counts, per-key results, faults and seed.
    pub const RESULTS: &str = "results.json";
    /// The human-readable report.
    pub const REPORT: &str = "report.html";
    /// The full configuration and seed; `harness test --replay` takes it.
    pub const TEST: &str = "test.json";
    /// The minimal failing sub-history, when the history is not linearizable.
    pub const SHRUNK: &str = "shrunk.jsonl";
}

/// Formats seconds since the epoch (and milliseconds) as UTC `YYYYMMDDTHHMMSS.mmm`.
pub fn utc_timestamp(secs: u64, millis: u32) -> String {
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (h, m, s) = (rem / 3600, (rem % 3600) / 60, rem % 60);
    // Civil-from-days (Howard Hinnant's algorithm), valid for every date after 1970.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}{month:02}{day:02}T{h:02}{m:02}{s:02}.{millis:03}")
}

/// Creates a fresh run folder under `store_root/test_name/` and points `store_root/latest` at it.
pub fn create_run_dir(store_root: &Path, test_name: &str) -> io::Result<PathBuf> {
    if test_name.is_empty() || test_name.contains(['/', '\\']) || test_name.starts_with('.') {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("test name '{test_name}' must be a plain folder name"),
        ));
    }
    let parent = store_root.join(test_name);
    fs::create_dir_all(&parent)?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let base = utc_timestamp(now.as_secs(), now.subsec_millis());
    // Two runs in the same millisecond get suffixes rather than sharing a folder.
    for attempt in 0..1000u32 {
        let name = if attempt == 0 {
            base.clone()
        } else {
            format!("{base}-{attempt}")
        };
        let dir = parent.join(&name);
        match fs::create_dir(&dir) {
            Ok(()) => {
                point_latest(store_root, &dir)?;
                return Ok(dir);
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AlreadyExists,
        format!("no free run folder under {}", parent.display()),
    ))
}

/// Replaces the `latest` symlink atomically (create a temporary link, rename it over the old one).
fn point_latest(store_root: &Path, run_dir: &Path) -> io::Result<()> {
    let target = run_dir.strip_prefix(store_root).unwrap_or(run_dir);
    let tmp = store_root.join(format!(".latest-{}", std::process::id()));
    let _ = fs::remove_file(&tmp);
    std::os::unix::fs::symlink(target, &tmp)?;
    fs::rename(&tmp, store_root.join("latest"))
}

/// Writes `value` as pretty JSON to `dir/name`.
pub fn write_json<T: serde::Serialize>(dir: &Path, name: &str, value: &T) -> io::Result<PathBuf> {
    let path = dir.join(name);
    let text = serde_json::to_string_pretty(value).map_err(io::Error::other)?;
    fs::write(&path, text + "\n")?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_utc_calendar_dates() {
        assert_eq!(utc_timestamp(0, 0), "19700101T000000.000");
        // 2026-11-25 11:14:46 UTC
        assert_eq!(utc_timestamp(1_795_605_286, 7), "20261125T111446.007");
        // A leap day.
        assert_eq!(utc_timestamp(951_782_400, 0), "20000229T000000.000");
    }

    #[test]
    fn run_dirs_are_fresh_and_latest_follows_the_newest() -> io::Result<()> {
        let root = tempfile::tempdir()?;
        let first = create_run_dir(root.path(), "t")?;
        let second = create_run_dir(root.path(), "t")?;
        assert_ne!(first, second);
        let latest = fs::canonicalize(root.path().join("latest"))?;
        assert_eq!(latest, fs::canonicalize(&second)?);
        assert!(create_run_dir(root.path(), "../escape").is_err());
        Ok(())
    }
}
