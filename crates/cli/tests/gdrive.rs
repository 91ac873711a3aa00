//! The default method, Google Drive, through the real google-drive3 client
//! against the repo's fake Drive v3 server on 127.0.0.1: the endpoint comes
//! from the config file, the access token from the environment.

mod support;

use share_backup_fake_drive::{DEFAULT_TOKEN, FakeDrive};
use support::{Env, texts};

const SHARE: &[u8] = b"share kept with the key in Drive";

fn setup(env: &Env, fake: &FakeDrive) {
    env.write_config(&format!(
        "[providers.gdrive]\nendpoint = \"{}\"\nmax_retries = 1\nmin_delay_ms = 10\n",
        fake.root_url()
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_method_backs_up_verifies_and_recovers_through_drive() {
    let fake = FakeDrive::start().await.unwrap();
    let env = Env::new();
    setup(&env, &fake);
    let share = env.write("share.bin", SHARE);

    // No --method: the default chain picks gdrive.
    let o = env
        .cmd()
        .env("GOOGLE_OAUTH_ACCESS_TOKEN", DEFAULT_TOKEN)
        .args(["backup", "-u", "erin", "--share-file"])
        .arg(&share)
        .output()
        .unwrap();
    let (out, err) = texts(&o);
    assert_eq!(o.status.code(), Some(0), "{out}\n{err}");
    assert!(out.contains("with method gdrive"), "{out}");
    let files: Vec<_> = fake.files().into_iter().filter(|f| !f.is_folder()).collect();
    assert_eq!(files.len(), 1, "one key file in the user's Drive");
    assert!(!out.contains(DEFAULT_TOKEN) && !err.contains(DEFAULT_TOKEN), "the token was printed");

    let o = env.cmd().env("GOOGLE_OAUTH_ACCESS_TOKEN", DEFAULT_TOKEN).args(["verify", "-u", "erin"]).output().unwrap();
    let (out, err) = texts(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(out.contains("gdrive: ok") && out.contains("the provider's key opens it"), "{out}");

    let o = env
        .cmd()
        .env("GOOGLE_OAUTH_ACCESS_TOKEN", DEFAULT_TOKEN)
        .args(["recover", "-u", "erin", "--out", "back.bin"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", texts(&o).1);
    assert_eq!(std::fs::read(env.path("back.bin")).unwrap(), SHARE);

    // A refused token is exit code 6, with what to do.
    let o = env
        .cmd()
        .env("GOOGLE_OAUTH_ACCESS_TOKEN", "not-a-token-drive-knows")
        .args(["recover", "-u", "erin", "--out", "again.bin"])
        .output()
        .unwrap();
    let (_, err) = texts(&o);
    assert_eq!(o.status.code(), Some(6), "{err}");
    assert!(!err.contains("not-a-token-drive-knows"), "{err}");
    assert!(!env.path("again.bin").exists());

    // The key deleted behind the tool's back: verify says the backup is gone.
    assert!(fake.remove_file(&files[0].id));
    let o = env.cmd().env("GOOGLE_OAUTH_ACCESS_TOKEN", DEFAULT_TOKEN).args(["verify", "-u", "erin"]).output().unwrap();
    let (out, err) = texts(&o);
    assert_eq!(o.status.code(), Some(5), "{out}\n{err}");
    assert!(out.contains("gdrive: FAILED"), "{out}");
    let o = env
        .cmd()
        .env("GOOGLE_OAUTH_ACCESS_TOKEN", DEFAULT_TOKEN)
        .args(["--json", "verify", "-u", "erin"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(5));
    let lines: Vec<serde_json::Value> = texts(&o).0.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let result = lines.iter().find(|v| v["event"] == "result").unwrap();
    assert_eq!(result["ok"], false, "{result}");
    assert_eq!(result["checks"][0]["kind"], "not_found");
    assert_eq!(lines.last().unwrap()["event"], "error");
}
