//! The real `share-backup` binary, driven without a terminal.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use serde_json::Value;
use support::{Env, linked_methods, texts};

const PASSWORD: &str = "correct horse battery staple";
const SHARE: &[u8] = b"client-key-share-0123456789-do-not-print";

fn json_lines(stdout: &str) -> Vec<Value> {
    stdout.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l:?}: {e}"))).collect()
}

/// `share-backup <global flags> backup` of [`SHARE`] for alice with the password on stdin.
fn backup_cmd(env: &Env, global: &[&str], password: &str) -> assert_cmd::Command {
    let share = env.write("share.bin", SHARE);
    let mut cmd = env.cmd();
    cmd.args(global)
        .args(["backup", "--user", "alice", "--method", "password", "--password-stdin", "--share-file"])
        .arg(&share)
        .write_stdin(format!("{password}\n"));
    cmd
}

fn backup(env: &Env, password: &str) -> std::process::Output {
    backup_cmd(env, &[], password).output().unwrap()
}

fn recover(env: &Env, password: &str, out: &str) -> std::process::Output {
    env.cmd()
        .args(["recover", "--user", "alice", "--password-stdin", "--out", out])
        .write_stdin(format!("{password}\n"))
        .output()
        .unwrap()
}

fn assert_no_secret(o: &std::process::Output, secrets: &[&str]) {
    let (out, err) = texts(o);
    for s in secrets {
        assert!(!out.contains(s) && !err.contains(s), "{s:?} was printed:\n{out}\n{err}");
    }
}

#[test]
fn backup_then_recover_round_trips_the_share_through_the_default_file_store() {
    let env = Env::new();
    let o = backup(&env, PASSWORD);
    let (out, err) = texts(&o);
    assert_eq!(o.status.code(), Some(0), "{out}\n{err}");
    assert!(out.contains("Backed up the share of alice with method password"), "{out}");
    assert!(env.store_dir().is_dir(), "the default store is under the user's data directory");

    let o = recover(&env, PASSWORD, "back.bin");
    let (out, err) = texts(&o);
    assert_eq!(o.status.code(), Some(0), "{out}\n{err}");
    assert_eq!(std::fs::read(env.path("back.bin")).unwrap(), SHARE);
    assert!(out.contains(&format!("({} bytes, method password", SHARE.len())), "{out}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(env.path("back.bin")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the recovered share is readable by its owner only");
    }
    assert_no_secret(&o, &[PASSWORD, std::str::from_utf8(SHARE).unwrap()]);
}

#[test]
fn the_default_notifier_logs_one_acknowledgement_per_backup() {
    let env = Env::new();
    assert_eq!(backup(&env, PASSWORD).status.code(), Some(0));
    let log = std::fs::read_to_string(env.notify_log()).unwrap();
    let lines = json_lines(&log);
    assert_eq!(lines.len(), 1, "{log}");
    assert_eq!(lines[0]["user"], "alice");
    assert_eq!(lines[0]["backup_method"], "PASSWORD");
    assert_eq!(lines[0]["success"], true);
}

#[test]
fn a_wrong_password_exits_3_and_writes_no_file() {
    let env = Env::new();
    assert_eq!(backup(&env, PASSWORD).status.code(), Some(0));
    let o = recover(&env, "wrong horse battery staple", "back.bin");
    let (_, err) = texts(&o);
    assert_eq!(o.status.code(), Some(3), "{err}");
    assert!(err.contains("the password does not open this backup"), "{err}");
    assert_eq!(err.lines().filter(|l| l.contains("error")).count(), 1, "one line says what went wrong: {err}");
    assert!(!env.path("back.bin").exists());
    assert_no_secret(&o, &["wrong horse"]);
}

#[test]
fn a_password_that_breaks_the_policy_exits_4_and_names_the_requirement() {
    let env = Env::new();
    let o = backup(&env, "hunter2");
    let (_, err) = texts(&o);
    assert_eq!(o.status.code(), Some(4), "{err}");
    assert!(err.contains("Use at least 8 characters (now 7)."), "{err}");
    assert!(!env.notify_log().exists(), "nothing was attempted, so nothing was notified");
    assert_no_secret(&o, &["hunter2"]);
}

#[test]
fn policy_settings_from_the_config_file_and_env_reach_the_provider() {
    let env = Env::new();
    env.write_config("[providers.password]\npolicy = \"pin\"\n");
    // A PIN policy: digits only, 6 to 12.
    let o = backup(&env, PASSWORD);
    let (_, err) = texts(&o);
    assert_eq!(o.status.code(), Some(4), "{err}");
    assert!(err.contains("digits"), "{err}");
    assert_eq!(backup(&env, "280417").status.code(), Some(0));

    // The environment wins over the file.
    let share = env.write("share.bin", SHARE);
    let o = env
        .cmd()
        .env("SHARE_BACKUP_PASSWORD_MIN_LENGTH", "8")
        .args(["backup", "-u", "bob", "-m", "password", "--password-stdin", "--share-file"])
        .arg(&share)
        .write_stdin("280417\n")
        .output()
        .unwrap();
    let (_, err) = texts(&o);
    assert_eq!(o.status.code(), Some(4), "{err}");
    assert!(err.contains("Use at least 8 characters (now 6)."), "{err}");
}

#[test]
fn an_unknown_setting_is_a_usage_error_that_says_where_to_fix_it() {
    let env = Env::new();
    env.write_config("[providers.password]\nspace_kost = 1024\n");
    let o = env.cmd().args(["methods", "-u", "alice"]).output().unwrap();
    let (_, err) = texts(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("space_kost") && err.contains("[providers.password]"), "{err}");
    let o = env.cmd().arg("providers").output().unwrap();
    let (out, err) = texts(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(out.contains("password"), "providers still lists what is linked: {out}");
}

#[test]
fn a_typo_in_the_config_file_is_refused() {
    let env = Env::new();
    env.write_config("[stor]\nurl = \"memory://\"\n");
    let o = env.cmd().arg("providers").output().unwrap();
    let (_, err) = texts(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("config file") && err.contains("stor"), "{err}");
}

#[test]
fn providers_lists_the_linked_providers_their_settings_and_the_default() {
    let env = Env::new();
    let o = env.cmd().arg("providers").output().unwrap();
    let (out, err) = texts(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(out.contains("gdrive") && out.contains("password"), "{out}");
    assert!(out.contains("space_cost"), "settings are documented: {out}");
    assert!(out.contains("Default chain: gdrive"), "{out}");
    assert!(out.contains("Without --method: gdrive"), "{out}");
    assert!(!out.contains("keydir"), "the template provider is not linked into this binary: {out}");

    let o = env.cmd().env("SHARE_BACKUP_DEFAULT_CHAIN", "nosuch").args(["--json", "providers"]).output().unwrap();
    let v = json_lines(&texts(&o).0);
    assert_eq!(o.status.code(), Some(0));
    let r = v.last().unwrap();
    assert_eq!(r["event"], "result");
    assert_eq!(r["default_chain"], serde_json::json!(["nosuch"]));
    assert_eq!(r["default"]["error"]["kind"], "no_default_provider");
    let methods: Vec<&str> = r["providers"].as_array().unwrap().iter().map(|p| p["method"].as_str().unwrap()).collect();
    assert_eq!(methods, linked_methods());
}

#[test]
fn json_output_is_one_object_per_line_with_ordered_progress_and_a_result() {
    let env = Env::new();
    let o = backup_cmd(&env, &["--json"], PASSWORD).output().unwrap();
    let (out, err) = texts(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    let v = json_lines(&out);
    let progress: Vec<&Value> = v.iter().filter(|e| e["event"] == "progress").collect();
    assert!(progress.len() >= 4, "{out}");
    assert_eq!(progress[0]["status"], "reading");
    let last = progress.last().unwrap();
    assert_eq!((last["status"].as_str(), last["done"].as_bool()), (Some("done"), Some(true)));
    assert!(progress[..progress.len() - 1].iter().all(|p| p["done"] == false));
    let r = v.last().unwrap();
    assert_eq!(r["event"], "result");
    assert_eq!(r["ok"], true);
    assert_eq!(r["method"], "password");
    assert_eq!(r["backup_id"].as_str().unwrap().len(), 32);
    assert!(r["envelope"].as_str().unwrap().starts_with("sb1."), "{r}");

    let o = env
        .cmd()
        .args(["--json", "recover", "-u", "alice", "--password-stdin", "--out", "x.bin"])
        .write_stdin("not the password\n")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3));
    let v = json_lines(&texts(&o).0);
    let e = v.last().unwrap();
    assert_eq!(e["event"], "error");
    assert_eq!(e["kind"], "wrong_secret");
    assert_eq!(e["exit_code"], 3);
    assert_no_secret(&o, &["not the password", PASSWORD]);
}

#[test]
fn json_errors_list_each_policy_violation() {
    let env = Env::new();
    let o = backup_cmd(&env, &["--json"], "123456").output().unwrap();
    assert_eq!(o.status.code(), Some(4));
    let v = json_lines(&texts(&o).0);
    let codes: Vec<&str> =
        v.last().unwrap()["violations"].as_array().unwrap().iter().map(|x| x["code"].as_str().unwrap()).collect();
    assert!(codes.contains(&"too_short") && codes.contains(&"common"), "{codes:?}");
}

#[test]
fn without_a_terminal_or_a_password_flag_the_tool_says_which_flag_to_use() {
    let env = Env::new();
    let share = env.write("share.bin", SHARE);
    let o = env.cmd().args(["backup", "-u", "alice", "-m", "password", "--share-file"]).arg(&share).output().unwrap();
    let (_, err) = texts(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("no terminal") && err.contains("--password-stdin"), "{err}");
}

#[test]
fn a_password_cannot_be_given_as_an_argument() {
    let env = Env::new();
    let o = env.cmd().args(["backup", "-u", "alice", "--share-file", "s", "--password", PASSWORD]).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    let (out, err) = texts(&o);
    assert!(!out.contains("Backed up"), "{out}{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with(
            "share-backup: error: there is no option --password: passwords and tokens are never taken as arguments"
        ),
        "{err}"
    );
    assert!(err.contains("--password-stdin") && err.contains("--password-env"), "{err}");
    assert_no_secret(&o, &[PASSWORD]);
}

#[test]
fn the_password_can_come_from_an_environment_variable_and_the_share_from_stdin() {
    let env = Env::new();
    let o = env
        .cmd()
        .env("MY_PW", PASSWORD)
        .args(["backup", "-u", "alice", "-m", "password", "--password-env", "MY_PW", "--share-stdin"])
        .write_stdin(SHARE)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", texts(&o).1);
    let o = env
        .cmd()
        .env("MY_PW", PASSWORD)
        .args(["recover", "-u", "alice", "--password-env", "MY_PW", "--out", "-"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", texts(&o).1);
    assert_eq!(o.stdout, SHARE, "with --out - the share, and only the share, goes to stdout");
    assert!(texts(&o).1.contains("Recovered the share"));
}

#[test]
fn recover_never_overwrites_a_file_without_force() {
    let env = Env::new();
    assert_eq!(backup(&env, PASSWORD).status.code(), Some(0));
    env.write("back.bin", b"precious");
    let o = recover(&env, PASSWORD, "back.bin");
    let (_, err) = texts(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("--force"), "{err}");
    assert_eq!(std::fs::read(env.path("back.bin")).unwrap(), b"precious");
    let o = env
        .cmd()
        .args(["recover", "-u", "alice", "--password-stdin", "--out", "back.bin", "--force"])
        .write_stdin(format!("{PASSWORD}\n"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", texts(&o).1);
    assert_eq!(std::fs::read(env.path("back.bin")).unwrap(), SHARE);
}

#[test]
fn rotate_replaces_the_password_and_keeps_the_share() {
    let env = Env::new();
    assert_eq!(backup(&env, PASSWORD).status.code(), Some(0));
    let new = "a different but strong passphrase 42";
    let o = env
        .cmd()
        .args(["rotate", "-u", "alice", "--password-stdin", "--new-password-stdin"])
        .write_stdin(format!("{PASSWORD}\n{new}\n"))
        .output()
        .unwrap();
    let (out, err) = texts(&o);
    assert_eq!(o.status.code(), Some(0), "{out}{err}");
    assert!(out.contains("It replaces backup"), "{out}");
    assert_eq!(recover(&env, PASSWORD, "old.bin").status.code(), Some(3), "the old password no longer opens it");
    assert_eq!(recover(&env, new, "new.bin").status.code(), Some(0));
    assert_eq!(std::fs::read(env.path("new.bin")).unwrap(), SHARE);
    assert_no_secret(&o, &[PASSWORD, new]);
}

#[test]
fn methods_and_verify_report_the_users_backups() {
    let env = Env::new();
    let o = env.cmd().args(["--json", "methods", "-u", "alice"]).output().unwrap();
    assert_eq!(json_lines(&texts(&o).0).last().unwrap()["methods"], serde_json::json!([]));
    let o = env.cmd().args(["verify", "-u", "alice"]).output().unwrap();
    assert_eq!(o.status.code(), Some(5), "no backup is not found: {}", texts(&o).1);

    assert_eq!(backup(&env, PASSWORD).status.code(), Some(0));
    let o = env.cmd().args(["methods", "-u", "alice"]).output().unwrap();
    assert_eq!(texts(&o).0.trim(), "password");
    let o = env.cmd().args(["--json", "verify", "-u", "alice"]).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", texts(&o).1);
    let r = json_lines(&texts(&o).0).pop().unwrap();
    assert_eq!(r["checks"][0]["method"], "password");
    assert_eq!(r["checks"][0]["share_len"], SHARE.len());
    assert_eq!(r["checks"][0]["key_checked"], false);
}

#[test]
fn an_unknown_method_is_a_usage_error_listing_the_available_ones() {
    let env = Env::new();
    let share = env.write("share.bin", SHARE);
    let o = env.cmd().args(["backup", "-u", "alice", "-m", "icloud", "--share-file"]).arg(&share).output().unwrap();
    let (_, err) = texts(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("icloud") && err.contains(&linked_methods().join(", ")), "{err}");
}

#[test]
fn gdrive_without_an_access_token_says_how_to_give_one() {
    let env = Env::new();
    let share = env.write("share.bin", SHARE);
    // No --method: the default chain picks gdrive.
    let o = env.cmd().args(["backup", "-u", "alice", "--share-file"]).arg(&share).output().unwrap();
    let (_, err) = texts(&o);
    assert_eq!(o.status.code(), Some(6), "{err}");
    assert!(err.contains("GOOGLE_OAUTH_ACCESS_TOKEN"), "{err}");
}

#[test]
fn probe_checks_the_password_against_the_policy_and_the_store() {
    let env = Env::new();
    let o = env
        .cmd()
        .args(["probe", "-u", "alice", "-m", "password", "--password-stdin"])
        .write_stdin("short\n")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(4), "{}", texts(&o).1);
    let o = env
        .cmd()
        .args(["--json", "probe", "-u", "alice", "-m", "password", "--password-stdin"])
        .write_stdin(format!("{PASSWORD}\n"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", texts(&o).1);
    let r = json_lines(&texts(&o).0).pop().unwrap();
    assert_eq!(r["provider"]["ok"], true);
    assert_eq!(r["store"]["ok"], true);
}

#[test]
fn calibrate_prints_costs_that_the_config_file_accepts() {
    let env = Env::new();
    let o = env.cmd().args(["--json", "calibrate", "--target-ms", "20"]).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", texts(&o).1);
    let r = json_lines(&texts(&o).0).pop().unwrap();
    let space = r["space_cost"].as_u64().unwrap();
    assert!(space >= 64, "{r}");
    assert_eq!(r["time_cost"], 3);
    // The text form is a config snippet: use it, and a backup works with those costs.
    let o = env.cmd().args(["calibrate", "--target-ms", "20"]).output().unwrap();
    let out = texts(&o).0;
    let snippet = &out[out.find("[providers.password]").unwrap()..];
    env.write_config(snippet);
    let o = env
        .cmd()
        .env_remove("SHARE_BACKUP_PASSWORD_SPACE_COST")
        .env_remove("SHARE_BACKUP_PASSWORD_TIME_COST")
        .arg("providers")
        .output()
        .unwrap();
    let (out, err) = texts(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(out.contains("space_cost = \""), "the calibrated value is shown as configured: {out}");
}

#[test]
fn an_unreachable_store_url_is_refused_with_the_supported_schemes() {
    let env = Env::new();
    let o = env.cmd().args(["--store", "ftp://host/dir", "methods", "-u", "alice"]).output().unwrap();
    let (_, err) = texts(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("s3://"), "{err}");
}

/// A one-shot HTTP server on 127.0.0.1 answering 204, recording requests.
fn portal_stub() -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(8) {
            let Ok(mut stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut head = String::new();
            let mut len = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
                head.push_str(&line);
                if line == "\r\n" {
                    break;
                }
            }
            let mut body = vec![0; len];
            let _ = reader.read_exact(&mut body);
            head.push_str(&String::from_utf8_lossy(&body));
            s.lock().unwrap().push(head);
            let _ = stream.write_all(b"HTTP/1.1 204 No Content\r\nconnection: close\r\n\r\n");
        }
    });
    (url, seen)
}

#[test]
fn the_portal_notifier_tells_portals_api_with_the_key_from_the_environment() {
    let env = Env::new();
    let (url, seen) = portal_stub();
    let o = backup_cmd(&env, &["--notifier", "portal"], PASSWORD)
        .env("PORTAL_API_URL", &url)
        .env("PORTAL_CLIENT_API_KEY", "test-client-api-key")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", texts(&o).1);
    let seen = seen.lock().unwrap();
    let req = seen.iter().find(|r| r.contains("stored-client-backup-share")).expect("Portal was called");
    assert!(req.starts_with("PUT /api/v1/clients/me/wallet/stored-client-backup-share"), "{req}");
    assert!(req.contains("Bearer test-client-api-key"), "{req}");
    assert!(req.contains("\"backupMethod\":\"PASSWORD\"") && req.contains("\"success\":true"), "{req}");
    assert_no_secret(&o, &["test-client-api-key"]);
}

#[test]
fn the_portal_notifier_without_a_key_fails_before_anything_is_done() {
    let env = Env::new();
    let o = env.cmd().args(["--notifier", "portal", "methods", "-u", "alice"]).output().unwrap();
    let (_, err) = texts(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("PORTAL_CLIENT_API_KEY"), "{err}");
}

#[test]
fn the_plain_binary_links_only_the_built_in_providers() {
    let env = Env::new();
    let o = env.cmd().args(["--json", "providers"]).output().unwrap();
    let r = json_lines(&texts(&o).0).pop().unwrap();
    let methods: Vec<&str> = r["providers"].as_array().unwrap().iter().map(|p| p["method"].as_str().unwrap()).collect();
    assert_eq!(methods, linked_methods(), "a third-party provider comes only with a binary that names it");
}

#[test]
fn verbose_logs_show_the_steps_but_never_a_secret() {
    let env = Env::new();
    let o = backup_cmd(&env, &["-vv"], PASSWORD).output().unwrap();
    let (_, err) = texts(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(err.contains("share_backup.backup"), "the protocol's spans are logged: {err}");
    assert_no_secret(&o, &[PASSWORD, std::str::from_utf8(SHARE).unwrap()]);
    let o = env
        .cmd()
        .args(["-vv", "recover", "-u", "alice", "--password-stdin", "--out", "back.bin"])
        .write_stdin(format!("{PASSWORD}\n"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", texts(&o).1);
    assert_no_secret(&o, &[PASSWORD, std::str::from_utf8(SHARE).unwrap()]);
}
