//! The guarded-PIN flow (`cargo run --example guarded-pin` calls [`run`]):
//!
//! 1. three realms start in this process on 127.0.0.1, each with an SQLite
//!    file in `dir`, trusting a demo integrator key;
//! 2. a demo share is backed up under a 6-digit PIN (2 of 3 realms recover);
//! 3. two wrong PINs count the guesses down;
//! 4. the right PIN recovers the share (and resets the counts);
//! 5. wrong PINs up to the limit: the last one erases the backup (lock-out),
//!    and even the right PIN finds nothing afterwards.

use std::path::Path;
use std::sync::Arc;

use share_backup::providers::guarded_pin::{GuardedPinProvider, PinConfig, Realm, SigningKey, SigningTokenSource};
use share_backup::{
    BackupId, BackupProviderExt, BackupShare, Configs, Context, Error, ErrorKind, ExposeSecret, Result, UserId,
};
// The realm server itself (what an operator runs), started in this process.
use share_backup_realm::LocalRealm;

/// The demo share.
pub const DEMO_SHARE: &[u8] = b"demo client key share: 5a1f...c0de";
/// The demo PIN.
pub const PIN: &str = "482916";
/// Wrong guesses per realm before erasure, in this demo.
pub const MAX_GUESSES: u32 = 5;

fn ctx(user: &UserId, pin: &str) -> Context {
    Context::new(user.clone(), BackupId::from_bytes([0; 16])).with_configs(Configs::new().with(PinConfig::new(pin)))
}

fn unexpected(what: &str) -> Error {
    Error::new(ErrorKind::Internal, format!("guarded-pin example: {what}"))
}

/// Runs the example with the realms' databases in `dir`, printing each step.
///
/// # Errors
/// Any error of the flow, or `Internal` when a step does not behave as shown.
pub async fn run(dir: &Path) -> Result<()> {
    let mut seed = [0u8; 32];
    share_backup::fill_random(&mut seed)?;
    let integrator = SigningKey::from_bytes(&seed);
    let mut realms = Vec::new();
    for id in ["realm-a", "realm-b", "realm-c"] {
        let db = format!("sqlite:{}", dir.join(format!("{id}.sqlite3")).display());
        let realm = LocalRealm::start(id, &db, "demo-integrator", integrator.verifying_key(), 0)
            .map_err(|e| unexpected(&format!("realm {id} did not start: {e}")))?;
        println!("1. {id} listening on {} (SQLite {db})", realm.url());
        realms.push(realm);
    }
    let mut builder = GuardedPinProvider::builder()
        .threshold(2)
        .max_guesses(MAX_GUESSES)
        .token_source(Arc::new(SigningTokenSource::new("demo-integrator", integrator)));
    for r in &realms {
        builder = builder.realm(Realm::new(r.id(), r.url())?);
    }
    let provider = builder.build()?;
    let user = UserId::new("guarded-pin-demo-user")?;
    let backup =
        Context::new(user.clone(), BackupId::generate()?).with_configs(Configs::new().with(PinConfig::new(PIN)));
    let (envelope, _) = provider.seal_share(&BackupShare::new(DEMO_SHARE.to_vec())?, &backup).await?;
    println!(
        "2. backed up under a 6-digit PIN: {} bytes of envelope, 2 of 3 realms needed",
        envelope.to_string().len()
    );
    let open_ctx = |pin: &str| ctx(&user, pin).with_backup_id(envelope.backup_id());

    for (tried, guess) in [(1, "111111"), (2, "271828")] {
        let e = provider
            .open_envelope(&envelope, &open_ctx(guess))
            .await
            .err()
            .ok_or_else(|| unexpected("a wrong PIN opened"))?;
        let left = e.guesses().ok_or_else(|| unexpected("no guess count"))?.guesses_left;
        println!("3. wrong PIN: {} ({left} guesses left)", e.kind());
        if left != MAX_GUESSES - tried {
            return Err(unexpected(&format!("{left} guesses left after {tried} wrong ones")));
        }
    }
    let share = provider.open_envelope(&envelope, &open_ctx(PIN)).await?;
    if share.expose_secret() != DEMO_SHARE {
        return Err(unexpected("the recovered share differs"));
    }
    println!("4. the right PIN recovered the share; every realm's count is back to 0");

    for tried in 1..=MAX_GUESSES {
        let e = provider
            .open_envelope(&envelope, &open_ctx("999000"))
            .await
            .err()
            .ok_or_else(|| unexpected("a wrong PIN opened"))?;
        let g = e.guesses().ok_or_else(|| unexpected("no guess count"))?;
        println!("5. wrong PIN: {} guesses left, locked out: {}", g.guesses_left, g.locked_out);
        // The count starts again at the limit (the right PIN reset it) and
        // the lock-out comes with the limit's last guess, not before.
        if g.guesses_left != MAX_GUESSES - tried || g.locked_out != (tried == MAX_GUESSES) {
            return Err(unexpected(&format!("after {tried} wrong PINs: {g:?}")));
        }
        if g.locked_out {
            println!("   {e}");
            let gone = provider
                .open_envelope(&envelope, &open_ctx(PIN))
                .await
                .err()
                .ok_or_else(|| unexpected("erased backup opened"))?;
            println!("   the right PIN now: {gone}");
            return match gone.guesses() {
                Some(g) if g.locked_out => Ok(()),
                _ => Err(unexpected("the right PIN after the lock-out is not told the backup was erased")),
            };
        }
    }
    Err(unexpected("no lock-out after the limit"))
}
