//! `bulletin-watch demo`: the tour must work on a machine with no mail
//! server and no internet, and leave a store a newcomer can explore.

use std::process::Command;

#[test]
fn demo_runs_the_real_pipeline_and_leaves_alerts_and_history() {
    let dir = tempfile::tempdir().unwrap();
    let demo = dir.path().join("tour");
    let out = Command::new(env!("CARGO_BIN_EXE_bulletin-watch"))
        .args(["demo", "--dir"])
        .arg(&demo)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("stored version 2, alert queued"),
        "{stdout}"
    );
    assert!(
        stdout.contains("加快转型"),
        "the diff shows the edit:\n{stdout}"
    );
    let mut mails: Vec<String> = std::fs::read_dir(demo.join("store/mail"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    mails.sort();
    assert_eq!(mails.len(), 2, "{mails:?}");
    assert!(mails[0].starts_with("changed.shanghai.v2."));
    assert!(mails[1].starts_with("published.jiangsu."));

    // The store it leaves verifies, and a second demo refuses to overwrite it.
    let verify = Command::new(env!("CARGO_BIN_EXE_bulletin-watch"))
        .arg("--config")
        .arg(demo.join("sources.toml"))
        .arg("verify")
        .output()
        .unwrap();
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stderr)
    );
    let again = Command::new(env!("CARGO_BIN_EXE_bulletin-watch"))
        .args(["demo", "--dir"])
        .arg(&demo)
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("not empty"));
}
