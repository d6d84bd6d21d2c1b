//! Running the `chatstore` binary in tests: a clean environment (no `DATABASE_URL` of
//! the machine's leaking in), stdin given or closed, and the exit code, stdout and
//! stderr returned.

#![allow(dead_code)]

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

/// What a run of the binary gave.
#[derive(Debug)]
pub struct Run {
    /// The exit code.
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Run {
    /// Stdout parsed as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", self.stdout))
    }

    /// Asserts the run succeeded, showing its output if not.
    pub fn ok(self) -> Run {
        assert_eq!(self.code, 0, "failed: {self:#?}");
        self
    }
}

/// Runs `chatstore ARGS` with `stdin` written to its standard input.
pub fn run_with_stdin(args: &[&str], stdin: &str) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_chatstore"))
        .args(args)
        .env_remove("DATABASE_URL")
        .env_remove("DATABASE_TYPE")
        .env_remove("CHATSTORE_PG_SCHEMA")
        .env_remove("BLOB_STORAGE_PATH")
        // Cheap password hashing: the tests create users.
        .env("CHATSTORE_ARGON2_MEMORY_KIB", "1024")
        .env("CHATSTORE_ARGON2_ITERATIONS", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    let mut input = child.stdin.take().expect("stdin");
    // A command that does not read its input may have ended already.
    let _ = input.write_all(stdin.as_bytes());
    drop(input);
    let output = child.wait_with_output().expect("the binary ends");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Runs `chatstore ARGS` with an empty stdin.
pub fn run(args: &[&str]) -> Run {
    run_with_stdin(args, "")
}

/// Runs `chatstore --store DIR ARGS`.
pub fn on(dir: &Path, args: &[&str]) -> Run {
    let dir = dir.to_str().expect("UTF-8 path");
    let mut all = vec!["--store", dir];
    all.extend_from_slice(args);
    run(&all)
}

/// Runs `chatstore --store DIR ARGS` with `stdin`.
pub fn on_with_stdin(dir: &Path, args: &[&str], stdin: &str) -> Run {
    let dir = dir.to_str().expect("UTF-8 path");
    let mut all = vec!["--store", dir];
    all.extend_from_slice(args);
    run_with_stdin(&all, stdin)
}
