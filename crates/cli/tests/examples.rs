//! The scheduling examples in `docs/examples/` stay right: every `chatstore` command in
//! the systemd services and the crontab runs, with its paths moved to a scratch
//! directory, and succeeds on a store with data.

mod common;

use std::path::Path;

use common::run;

/// The `chatstore` commands of an example file: `Exec...=` lines of a unit, or the
/// command part of crontab lines (up to a redirection or `||`).
fn commands(file: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(file).expect("example file");
    text.lines()
        .filter(|line| !line.trim_start().starts_with('#'))
        .filter_map(|line| {
            let start = line.find("/usr/local/bin/chatstore")?;
            let command = &line[start..];
            let end = command.find(['>', '|']).unwrap_or(command.len());
            Some(command[..end].trim().to_owned())
        })
        .collect()
}

#[test]
fn every_command_of_the_examples_runs() {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/examples");
    let tmp = tempfile::tempdir().expect("temporary directory");
    let store = tmp.path().join("store");
    let backups = tmp.path().join("backups");
    let store_arg = store.to_str().expect("UTF-8");
    run(&["--store", store_arg, "init"]).ok();

    let mut ran = 0;
    let mut files: Vec<_> = std::fs::read_dir(&examples)
        .expect("docs/examples")
        .map(|entry| entry.expect("entry").path())
        .collect();
    files.sort();
    for file in files {
        for command in commands(&file) {
            let command = command
                .replace("/var/lib/chat", store_arg)
                .replace("/var/backups/chat", backups.to_str().expect("UTF-8"));
            let args: Vec<&str> = command.split_whitespace().skip(1).collect();
            let result = run(&args);
            assert_eq!(
                result.code,
                0,
                "{} in {}: {result:?}",
                command,
                file.display()
            );
            ran += 1;
        }
    }
    assert_eq!(
        ran, 7,
        "the services' three commands and the crontab's four"
    );
    assert!(backups.read_dir().expect("backups written").count() >= 1);
}
