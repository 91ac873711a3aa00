//! The binary's usage errors, configuration mistakes, cloud credentials,
//! progress lines, and the README's script block, driven without a terminal.

mod support;

use std::io::{Read, Write};
use std::net::TcpListener;

use serde_json::Value;
use support::{Env, texts};

const PASSWORD: &str = "correct horse battery staple";

fn one_line(err: &str) -> &str {
    assert_eq!(err.trim_end().lines().count(), 1, "not one line:\n{err}");
    assert!(err.starts_with("share-backup: error: "), "{err}");
    err.trim_end()
}

#[test]
fn usage_errors_are_one_line_exit_2_and_say_what_to_do() {
    let env = Env::new();
    let cases: &[(&[&str], &str)] = &[
        (&["backup", "--share-file", "s"], "missing --user <USER>; run `share-backup backup --help` for its options"),
        (&["backup", "-u", "a", "--share-fil", "s"], "unknown option --share-fil; did you mean --share-file?"),
        (&["--notifier", "pigeon", "providers"], "invalid value for --notifier <KIND>; use one of log, portal"),
        (&[], "no command given; give one of providers, backup, recover"),
        (&["--pin", "1234", "recover", "-u", "a", "--out", "x"], "there is no option --pin: passwords"),
    ];
    for (args, expected) in cases {
        let o = env.cmd().args(*args).output().unwrap();
        let (out, err) = texts(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(out.is_empty(), "{out}");
        assert!(one_line(&err).contains(expected), "{args:?}: {err}");
        assert!(!err.contains("1234"), "{err}");
    }
}

#[test]
fn an_unexpected_argument_is_refused_without_repeating_it() {
    let env = Env::new();
    let o = env.cmd().args(["recover", "-u", "alice", "--out", "x", "hunter22xx"]).output().unwrap();
    let (_, err) = texts(&o);
    assert_eq!(o.status.code(), Some(2));
    assert!(one_line(&err).contains("unexpected argument (value not shown"), "{err}");
    assert!(err.contains("--password-stdin") && !err.contains("hunter22xx"), "{err}");
    let o = env.cmd().arg("hunter22xx").output().unwrap();
    let (_, err) = texts(&o);
    assert_eq!(o.status.code(), Some(2));
    assert!(one_line(&err).contains("unknown command (not shown)") && !err.contains("hunter22xx"), "{err}");
}

#[test]
fn json_usage_errors_are_a_json_error_object_on_stdout() {
    let env = Env::new();
    let o = env.cmd().args(["--json", "backup", "--share-file", "s", "--password=hunter22xx"]).output().unwrap();
    let (out, err) = texts(&o);
    assert_eq!(o.status.code(), Some(2));
    let v: Value = serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out:?}"));
    assert_eq!(v["event"], "error");
    assert_eq!(v["ok"], false);
    assert_eq!(v["kind"], "invalid_input");
    assert_eq!(v["exit_code"], 2);
    assert!(v["message"].as_str().unwrap().contains("never taken as arguments"), "{v}");
    assert!(v["hint"].as_str().unwrap().contains("--password-env"), "{v}");
    assert!(!out.contains("hunter22xx") && !err.contains("hunter22xx"), "{out}{err}");
}

#[test]
fn help_and_version_still_print_and_exit_0() {
    let env = Env::new();
    let o = env.cmd().args(["backup", "--help"]).output().unwrap();
    assert_eq!(o.status.code(), Some(0));
    assert!(texts(&o).0.contains("--password-stdin"), "{}", texts(&o).0);
    let o = env.cmd().arg("--version").output().unwrap();
    assert_eq!(o.status.code(), Some(0));
    assert!(texts(&o).0.starts_with("share-backup "), "{}", texts(&o).0);
}

#[test]
fn a_section_for_a_provider_that_is_not_linked_is_a_usage_error_naming_the_linked_ones() {
    let env = Env::new();
    env.write_config("[providers.pasword]\npolicy = \"pin\"\n");
    let o = env.cmd().args(["methods", "-u", "alice"]).output().unwrap();
    let (_, err) = texts(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        one_line(&err)
            .contains(&format!("[providers.pasword] is not a provider this build links (linked: {})", linked())),
        "{err}"
    );
}

#[test]
fn a_misspelt_method_in_a_setting_variable_is_a_usage_error_naming_the_right_variable() {
    let env = Env::new();
    let o = env.cmd().env("SHARE_BACKUP_PASWORD_POLICY", "pin").args(["methods", "-u", "alice"]).output().unwrap();
    let (_, err) = texts(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    let l = one_line(&err);
    assert!(l.contains(&format!("SHARE_BACKUP_PASWORD_POLICY names no linked provider (linked: {})", linked())), "{l}");
    assert!(l.contains("rename it to SHARE_BACKUP_PASSWORD_POLICY"), "{l}");
    // Another tool's variable is not mistaken for a provider setting.
    let o = env.cmd().env("SHARE_BACKUP_S3_ENDPOINT", "http://x").args(["methods", "-u", "alice"]).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", texts(&o).1);
}

/// An HTTP server on 127.0.0.1 that refuses every request with 403, as a
/// network without an instance-metadata service does.
fn refusing_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let _ = stream.write_all(b"HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
        }
    });
    url
}

fn without_cloud_credentials(c: &mut assert_cmd::Command) {
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy().into_owned();
        if k.starts_with("AWS_") || k.starts_with("AZURE_") {
            c.env_remove(k);
        }
    }
}

#[test]
fn s3_without_credentials_exits_6_naming_the_aws_variables() {
    let env = Env::new();
    let server = refusing_server();
    let mut c = env.cmd();
    without_cloud_credentials(&mut c);
    let o = c
        .env("AWS_METADATA_ENDPOINT", &server)
        .env("AWS_ENDPOINT", &server)
        .env("AWS_ALLOW_HTTP", "true")
        .args(["--store", "s3://bucket/x", "methods", "-u", "alice"])
        .output()
        .unwrap();
    let (_, err) = texts(&o);
    assert_eq!(o.status.code(), Some(6), "{err}");
    let l = one_line(&err);
    assert!(l.contains("no AWS credentials for the store s3://bucket/x"), "{l}");
    for var in ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION", "AWS_ENDPOINT"] {
        assert!(l.contains(var), "{var}: {l}");
    }
    assert!(!l.contains("retry later"), "{l}");
}

#[test]
fn azure_without_an_account_exits_6_naming_the_azure_variables() {
    let env = Env::new();
    let mut c = env.cmd();
    without_cloud_credentials(&mut c);
    let o = c.args(["--store", "az://container/x", "methods", "-u", "alice"]).output().unwrap();
    let (_, err) = texts(&o);
    assert_eq!(o.status.code(), Some(6), "{err}");
    let l = one_line(&err);
    assert!(l.contains("az://container/x names no Azure storage account"), "{l}");
    assert!(l.contains("AZURE_STORAGE_ACCOUNT_NAME") && l.contains("AZURE_STORAGE_ACCOUNT_KEY"), "{l}");
}

#[test]
fn without_a_terminal_progress_is_one_plain_line_per_step_in_order_ending_with_done() {
    let env = Env::new();
    let share = env.write("share.bin", b"plain progress share");
    let run = |json: bool| {
        let mut c = env.cmd();
        if json {
            c.arg("--json");
        }
        c.args(["backup", "-u", "alice", "-m", "password", "--password-stdin", "--share-file"])
            .arg(&share)
            .write_stdin(format!("{PASSWORD}\n"))
            .output()
            .unwrap()
    };
    let o = run(true);
    let statuses: Vec<String> = texts(&o)
        .0
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v["event"] == "progress")
        .map(|v| v["status"].as_str().unwrap().to_owned())
        .collect();
    let o = run(false);
    let (out, err) = texts(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    let lines: Vec<&str> = err.lines().collect();
    let plain: Vec<String> = lines
        .iter()
        .map(|l| {
            l.strip_prefix("share-backup: backup: ").unwrap_or_else(|| panic!("not a progress line: {l:?}")).to_owned()
        })
        .collect();
    assert_eq!(plain, statuses, "the same steps as --json, in the same order");
    assert_eq!(plain.first().map(String::as_str), Some("reading"));
    assert_eq!(plain.last().map(String::as_str), Some("done"));
    assert!(plain.iter().any(|s| s == "deriving_key") && plain.iter().any(|s| s == "storing"), "{plain:?}");
    assert!(out.contains("Backed up the share of alice"), "{out}");
    // --quiet drops them.
    let o = env
        .cmd()
        .args(["--quiet", "backup", "-u", "alice", "-m", "password", "--password-stdin", "--share-file"])
        .arg(&share)
        .write_stdin(format!("{PASSWORD}\n"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(texts(&o).1, "");
}

/// The shell block between the README's `readme-script` markers.
fn readme_script() -> String {
    let readme = include_str!("../README.md");
    let start = readme.find("<!-- readme-script:start -->").expect("start marker");
    let end = readme.find("<!-- readme-script:end -->").expect("end marker");
    let block = &readme[start..end];
    let body = block.split_once("```sh\n").expect("a ```sh block").1;
    body.rsplit_once("```").expect("the block's end").0.to_owned()
}

#[test]
fn the_readme_script_block_runs_as_written() {
    let script = readme_script();
    assert!(script.contains("share-backup recover"), "{script}");
    let env = Env::new();
    let bin_dir = support::bin().parent().unwrap().to_path_buf();
    let path = std::env::join_paths(
        std::iter::once(bin_dir).chain(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())),
    )
    .unwrap();
    let mut c = std::process::Command::new("bash");
    c.args(["-e", "-o", "pipefail", "-c", &script]);
    env.apply(&mut c);
    let o = assert_cmd::Command::from_std(c).env("PATH", path).env_remove("SB_PW").output().unwrap();
    let (out, err) = texts(&o);
    assert_eq!(o.status.code(), Some(0), "the README's script failed:\n{script}\n--- stdout\n{out}\n--- stderr\n{err}");
    assert!(out.lines().any(|l| l == "same"), "the recovered share differs:\n{out}");
    let last: Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    assert_eq!((last["event"].as_str(), last["ok"].as_bool()), (Some("result"), Some(true)), "{last}");
    assert_eq!(out.matches("Backed up the share of bob").count(), 2, "{out}");
    // Run twice, as a person pasting it again would: nothing in it refuses a second run.
    let mut c = std::process::Command::new("bash");
    c.args(["-e", "-o", "pipefail", "-c", &script]);
    env.apply(&mut c);
    let path = std::env::var_os("PATH").unwrap_or_default();
    let bin_dir = support::bin().parent().unwrap().to_path_buf();
    let path = std::env::join_paths(std::iter::once(bin_dir).chain(std::env::split_paths(&path))).unwrap();
    let o = assert_cmd::Command::from_std(c).env("PATH", path).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "second run:\n{}", texts(&o).1);
}

fn linked() -> String {
    support::linked_methods().join(", ")
}
