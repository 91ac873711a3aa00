//! How `open_envelope` names a failed authentication: `Integrity` pointing at
//! the store when the provider confirmed its key, `WrongSecret` for a
//! user-secret provider that cannot confirm it (today's behaviour, kept).

use share_backup_core::{
    BackupId, BackupProvider, BackupProviderExt, BackupShare, Capabilities, ClientId, Context, CustodianId, DataKey,
    ErrorKind, KeyHeader, MethodId, Result, SealedKey, UserId, async_trait,
};

/// A provider with one fixed key that either confirms it or not.
#[derive(Debug)]
struct Fixed {
    method: MethodId,
    confirms: bool,
    needs_user_secret: bool,
}

#[async_trait]
impl BackupProvider for Fixed {
    fn method(&self) -> &MethodId {
        &self.method
    }
    fn capabilities(&self) -> Capabilities {
        Capabilities::new().with_needs_user_secret(self.needs_user_secret)
    }
    async fn probe(&self, _ctx: &Context) -> Result<()> {
        Ok(())
    }
    async fn seal_key(&self, _ctx: &Context) -> Result<SealedKey> {
        Ok(SealedKey { key: DataKey::from_bytes([3; 64]), header: KeyHeader::new(vec![1])? })
    }
    async fn open_key(&self, _header: &KeyHeader, _ctx: &Context) -> Result<DataKey> {
        let key = DataKey::from_bytes([3; 64]);
        Ok(if self.confirms { key.confirmed() } else { key })
    }
    async fn delete_key(&self, _header: &KeyHeader, _ctx: &Context) -> Result<()> {
        Ok(())
    }
}

fn ctx(user: &str) -> Context {
    Context::new(UserId::new(user).unwrap(), BackupId::generate().unwrap())
}

async fn failures(p: &Fixed) -> Vec<(String, share_backup_core::Error)> {
    let share = BackupShare::new(b"share".to_vec()).unwrap();
    let (env, _) = p.seal_share(&share, &ctx("alice")).await.unwrap();
    assert_eq!(p.open_envelope(&env, &ctx("alice")).await.unwrap().len(), 5);
    let mut out = Vec::new();
    let moved = [
        ("another user", ctx("bob")),
        ("another custodian", ctx("alice").with_custodian(CustodianId::new("c2").unwrap())),
        ("another client", ctx("alice").with_client(ClientId::new("app2").unwrap())),
    ];
    for (what, c) in moved {
        out.push((what.to_owned(), p.open_envelope(&env, &c).await.unwrap_err()));
    }
    let text = env.encode();
    let (head, body) = text.rsplit_once('.').unwrap();
    let flipped = match body.strip_prefix('A') {
        Some(rest) => format!("B{rest}"),
        None => format!("A{}", &body[1..]),
    };
    let altered = format!("{head}.{flipped}").parse().unwrap();
    out.push(("a changed body".to_owned(), p.open_envelope(&altered, &ctx("alice")).await.unwrap_err()));
    out
}

#[tokio::test]
async fn a_confirmed_key_makes_every_authentication_failure_integrity_blaming_the_store() {
    let p = Fixed { method: MethodId::new("pin-like").unwrap(), confirms: true, needs_user_secret: true };
    for (what, e) in failures(&p).await {
        assert_eq!(e.kind(), &ErrorKind::Integrity, "{what}: {e:?}");
        assert!(e.message().contains("store") && e.hint().contains("store"), "{what}: {e}");
        assert_eq!(e.method(), Some(p.method()), "{what}");
    }
}

#[tokio::test]
async fn a_user_secret_provider_that_cannot_confirm_keeps_wrong_secret() {
    let p = Fixed { method: MethodId::new("unchecked").unwrap(), confirms: false, needs_user_secret: true };
    for (what, e) in failures(&p).await {
        assert_eq!(e.kind(), &ErrorKind::WrongSecret, "{what}: {e:?}");
        assert!(e.message().contains("altered"), "the message names both causes: {e}");
    }
}

#[tokio::test]
async fn a_stored_key_provider_reports_integrity() {
    let p = Fixed { method: MethodId::new("stored").unwrap(), confirms: false, needs_user_secret: false };
    for (what, e) in failures(&p).await {
        assert_eq!(e.kind(), &ErrorKind::Integrity, "{what}: {e:?}");
    }
}
