//! `rmq decode` on captured frames.

use std::process::Command;

fn capture(name: &str) -> String {
    format!(
        "{}/../../core/tests/data/captures/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

#[test]
fn decodes_a_captured_pull_response_with_its_messages() {
    let out = Command::new(env!("CARGO_BIN_EXE_rmq"))
        .args(["decode", "--file", &capture("bin-pull-response.hex")])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("response SUCCESS(0)  opaque 30"), "{text}");
    assert!(text.contains("nextBeginOffset = 2"), "{text}");
    assert_eq!(text.matches("  message ").count(), 2, "{text}");
}

#[test]
fn json_output_and_a_clear_error_for_garbage() {
    let out = Command::new(env!("CARGO_BIN_EXE_rmq"))
        .args([
            "--json",
            "decode",
            "--file",
            &capture("bin-pull-response.hex"),
        ])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("\"messages\":2"), "{text}");
    let out = Command::new(env!("CARGO_BIN_EXE_rmq"))
        .args(["decode", "00000002ffff"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8(out.stderr).unwrap().starts_with("rmq: "));
}
