//! The tool on real object stores on 127.0.0.1: moto's S3 server and
//! Azurite, as `scripts/test-servers.sh` starts them. The store URL and its
//! options come from the config file; the credentials from the environment,
//! as an operator would set them up. Skipped (with a message) when the
//! servers' variables are unset, unless `SHARE_BACKUP_REQUIRE_SERVERS=1`.

mod support;

use support::{Env, texts};

const PASSWORD: &str = "correct horse battery staple";
const SHARE: &[u8] = b"share stored in a cloud bucket";

fn server_var(name: &str) -> Option<String> {
    match std::env::var(name) {
        Ok(v) if !v.is_empty() => Some(v),
        _ => {
            assert!(
                std::env::var("SHARE_BACKUP_REQUIRE_SERVERS").as_deref() != Ok("1"),
                "{name} is unset and SHARE_BACKUP_REQUIRE_SERVERS=1: start the servers with scripts/test-servers.sh"
            );
            eprintln!("skipped: {name} is unset (eval \"$(scripts/test-servers.sh start)\" to run this test)");
            None
        }
    }
}

/// A fresh store prefix per run: the process id and the time are unique enough.
fn unique() -> String {
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    format!("{}-{t}", std::process::id())
}

/// Backs up, lists, verifies and recovers through the store in `config`, with `creds` in the environment.
fn round_trip(config: &str, creds: &[(&str, String)]) {
    let env = Env::new();
    env.write_config(config);
    let share = env.write("share.bin", SHARE);
    let with_creds = |c: &mut assert_cmd::Command| {
        for (k, v) in creds {
            c.env(k, v);
        }
    };
    let mut c = env.cmd();
    with_creds(&mut c);
    let o = c
        .args(["backup", "-u", "dora", "-m", "password", "--password-stdin", "--share-file"])
        .arg(&share)
        .write_stdin(format!("{PASSWORD}\n"))
        .output()
        .unwrap();
    let (out, err) = texts(&o);
    assert_eq!(o.status.code(), Some(0), "{out}\n{err}");
    for (_, v) in creds {
        assert!(!out.contains(v.as_str()) && !err.contains(v.as_str()), "a credential was printed:\n{out}\n{err}");
    }

    let mut c = env.cmd();
    with_creds(&mut c);
    let o = c.args(["methods", "-u", "dora"]).output().unwrap();
    assert_eq!(texts(&o).0.trim(), "password", "{}", texts(&o).1);

    let mut c = env.cmd();
    with_creds(&mut c);
    let o = c
        .args(["recover", "-u", "dora", "--password-stdin", "--out", "back.bin"])
        .write_stdin(format!("{PASSWORD}\n"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", texts(&o).1);
    assert_eq!(std::fs::read(env.path("back.bin")).unwrap(), SHARE);

    // Without the credentials the store refuses, and the tool says so.
    let o = env.cmd().args(["methods", "-u", "dora"]).output().unwrap();
    let (_, err) = texts(&o);
    assert!(matches!(o.status.code(), Some(2 | 6 | 7)), "{err}");
    assert!(err.starts_with("share-backup: error: ") && err.trim_end().lines().count() == 1, "{err}");
}

#[test]
fn backup_and_recovery_work_on_an_s3_compatible_server() {
    let (Some(endpoint), Some(bucket), Some(region), Some(key_id), Some(secret)) = (
        server_var("SHARE_BACKUP_S3_ENDPOINT"),
        server_var("SHARE_BACKUP_S3_BUCKET"),
        server_var("SHARE_BACKUP_S3_REGION"),
        server_var("SHARE_BACKUP_S3_ACCESS_KEY_ID"),
        server_var("SHARE_BACKUP_S3_SECRET_ACCESS_KEY"),
    ) else {
        return;
    };
    let config = format!(
        "[store]\nurl = \"s3://{bucket}/cli-{}\"\noptions = {{ aws_endpoint = \"{endpoint}\", aws_allow_http = true, aws_region = \"{region}\" }}\n",
        unique()
    );
    round_trip(&config, &[("AWS_ACCESS_KEY_ID", key_id), ("AWS_SECRET_ACCESS_KEY", secret)]);
}

#[test]
fn backup_and_recovery_work_on_azurite() {
    let (Some(endpoint), Some(account), Some(key), Some(container)) = (
        server_var("SHARE_BACKUP_AZURITE_ENDPOINT"),
        server_var("SHARE_BACKUP_AZURITE_ACCOUNT"),
        server_var("SHARE_BACKUP_AZURITE_KEY"),
        server_var("SHARE_BACKUP_AZURITE_CONTAINER"),
    ) else {
        return;
    };
    let config = format!(
        "[store]\nurl = \"az://{container}/cli-{}\"\n[store.options]\nazure_storage_endpoint = \"{endpoint}\"\nazure_allow_http = true\nazure_storage_account_name = \"{account}\"\n",
        unique()
    );
    round_trip(&config, &[("AZURE_STORAGE_ACCOUNT_KEY", key)]);
}
