//! Finding (or building) the `raftkv` server binary.
//!
//! Search order: an explicit path (which must exist); then `$CARGO_TARGET_DIR` and the workspace's
//! `target/`, release before debug; then next to the running executable. Guarantees: a missing binary is
//! an error listing every place searched; building runs `cargo build -p raftkv --bin raftkv` in the
//! workspace with the harness's own profile and fails clearly if cargo does.

use super::ClusterError;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The server binary's file name.
pub const RAFTKV_BINARY_NAME: &str = "raftkv";

/// The workspace root this harness was built from.
pub fn workspace_root() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir.parent().unwrap_or(manifest_dir).to_path_buf()
}

/// Every place searched, in order (explicit path excluded).
pub fn candidate_paths() -> Vec<PathBuf> {
    let mut target_dirs = Vec::new();
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        let dir = PathBuf::from(dir);
        // A relative CARGO_TARGET_DIR is relative to the workspace, as cargo treats it.
        target_dirs.push(if dir.is_absolute() {
            dir
        } else {
            workspace_root().join(dir)
        });
    }
    target_dirs.push(workspace_root().join("target"));
    let mut candidates = Vec::new();
    for profile in ["release", "debug"] {
        for dir in &target_dirs {
            candidates.push(dir.join(profile).join(RAFTKV_BINARY_NAME));
        }
    }
    if let Some(exe_dir) = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(Path::to_path_buf))
    {
        candidates.push(exe_dir.join(RAFTKV_BINARY_NAME));
        // Test binaries live in target/<profile>/deps.
        if let Some(profile_dir) = exe_dir.parent() {
            candidates.push(profile_dir.join(RAFTKV_BINARY_NAME));
        }
    }
    candidates
}

/// Finds the binary without building: `explicit` if given (must be a file), else the first candidate
/// that exists.
pub fn find_raftkv_binary(explicit: Option<&Path>) -> Result<PathBuf, ClusterError> {
    if let Some(path) = explicit {
        return if path.is_file() {
            Ok(path.to_path_buf())
        } else {
            Err(ClusterError::BinaryNotFound {
                searched: vec![path.to_path_buf()],
            })
        };
    }
    let candidates = candidate_paths();
    candidates
        .iter()
        .find(|path| path.is_file())
        .cloned()
        .ok_or(ClusterError::BinaryNotFound {
            searched: candidates,
        })
}

/// The cargo profile this harness was built with; the server is built with the same one.
pub fn own_profile() -> &'static str {
    if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    }
}

/// Like [`find_raftkv_binary`], but first brings the server binary up to date: inside the workspace this
/// harness was built from (and with cargo on the PATH), it runs `cargo build -p raftkv --bin raftkv` with
/// the harness's own profile (a no-op when nothing changed), so a run never uses a stale server. Outside a
/// workspace it only searches. An explicit path is used as it is, never rebuilt.
pub fn find_or_build_raftkv_binary(explicit: Option<&Path>) -> Result<PathBuf, ClusterError> {
    if explicit.is_some() || !workspace_root().join("Cargo.toml").is_file() {
        return find_raftkv_binary(explicit);
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command.args([
        "build",
        "--quiet",
        "-p",
        "raftkv",
        "--bin",
        RAFTKV_BINARY_NAME,
    ]);
    if own_profile() == "release" {
        command.arg("--release");
    }
    let status = match command.current_dir(workspace_root()).status() {
        Ok(status) => status,
        // No cargo here: use whatever binary exists.
        Err(_) => return find_raftkv_binary(None),
    };
    if !status.success() {
        return Err(ClusterError::Build(status.to_string()));
    }
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|dir| {
            if dir.is_absolute() {
                dir
            } else {
                workspace_root().join(dir)
            }
        })
        .unwrap_or_else(|| workspace_root().join("target"));
    let built = target_dir.join(own_profile()).join(RAFTKV_BINARY_NAME);
    if built.is_file() {
        Ok(built)
    } else {
        find_raftkv_binary(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_explicit_binary_is_a_clear_error() {
        let missing = Path::new("/nonexistent/raftkv");
        let error = find_raftkv_binary(Some(missing)).expect_err("missing");
        assert!(error.to_string().contains("/nonexistent/raftkv"), "{error}");
        // An explicit missing path is never "fixed" by building something else.
        assert!(find_or_build_raftkv_binary(Some(missing)).is_err());
    }

    #[test]
    fn explicit_existing_binary_is_used_as_is() {
        let file = tempfile::NamedTempFile::new().expect("temp file");
        assert_eq!(
            find_raftkv_binary(Some(file.path())).expect("found"),
            file.path()
        );
    }

    #[test]
    fn candidates_prefer_release_and_live_in_the_workspace_target() {
        let candidates = candidate_paths();
        let release = candidates
            .iter()
            .position(|p| p.ends_with("target/release/raftkv"));
        let debug = candidates
            .iter()
            .position(|p| p.ends_with("target/debug/raftkv"));
        assert!(
            release.is_some() && debug.is_some() && release < debug,
            "{candidates:?}"
        );
        assert!(workspace_root().join("Cargo.toml").is_file());
    }
}
