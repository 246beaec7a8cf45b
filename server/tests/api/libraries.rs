//! Independent JWT libraries the tests run at test time: PyJWT, node's `jsonwebtoken` and Ruby's
//! `jwt`, as installed for the interop tests (`install_interop_tools` in
//! `scripts/provision.sh`): PyJWT in `.local/venv` (or `COUNTERSIGN_PYTHON`), `jsonwebtoken` in
//! `core/tests/interop/node_modules`, Debian's `ruby-jwt`. A missing one fails the test, never
//! skips it.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

const HOW_TO_FIX: &str = "Run scripts/test, or `source scripts/provision.sh && install_interop_tools`.";

/// The repository's root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("server/ has a parent").to_path_buf()
}

/// `$COUNTERSIGN_PYTHON`, else the provisioned `.local/venv`, else `python3`.
pub fn python() -> OsString {
    if let Some(python) = std::env::var_os("COUNTERSIGN_PYTHON").filter(|p| !p.is_empty()) {
        return python;
    }
    let venv = repo_root().join(".local/venv/bin/python");
    if venv.exists() {
        venv.into_os_string()
    } else {
        OsString::from("python3")
    }
}

/// `node`.
pub fn node() -> OsString {
    OsString::from("node")
}

/// `ruby`.
pub fn ruby() -> OsString {
    OsString::from("ruby")
}

/// Runs `program args` from the repository root with `env` (and `jsonwebtoken` on
/// `NODE_PATH`), and returns the token it prints last.
pub fn token_from(program: OsString, args: &[&str], env: &[(&str, &str)]) -> String {
    let shown = format!("{} {}", program.to_string_lossy(), args.join(" "));
    let output = Command::new(&program)
        .args(args)
        .current_dir(repo_root())
        .env("NODE_PATH", repo_root().join("core/tests/interop/node_modules"))
        .envs(env.iter().copied())
        .output()
        .unwrap_or_else(|e| panic!("cannot run `{shown}`: {e}. {HOW_TO_FIX}"));
    assert!(output.status.success(), "`{shown}` failed: {}\n{HOW_TO_FIX}", String::from_utf8_lossy(&output.stderr));
    let stdout = String::from_utf8(output.stdout).expect("UTF-8");
    let token = stdout.lines().last().unwrap_or_default().trim().to_owned();
    assert_eq!(token.split('.').count(), 3, "`{shown}` printed no token: {stdout}");
    token
}
