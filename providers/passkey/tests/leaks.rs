//! No PRF output, data key or credential secret in any Debug, error or
//! tracing event of a backup, a recovery and the failures (wrong passkey,
//! unenrolled passkey, no PRF, cancelled).

use std::sync::{Arc, Mutex};

use share_backup_conformance::leak::{Capture, Needles};
use share_backup_core::{
    BackupId, BackupProvider, BackupProviderExt, BackupShare, Configs, Context, ExposeSecret, UserId,
};
use share_backup_passkey::{
    Behaviour, CeremonyError, PasskeyConfig, PasskeyProvider, PrfAuthenticator, PrfRequest, PrfResponse,
    SoftwareAuthenticator,
};
use tracing::instrument::WithSubscriber;

/// Records every PRF output it hands out.
struct Recording(SoftwareAuthenticator, Arc<Mutex<Vec<[u8; 32]>>>);

#[share_backup_core::async_trait]
impl PrfAuthenticator for Recording {
    async fn evaluate(&self, r: &PrfRequest) -> Result<PrfResponse, CeremonyError> {
        let resp = self.0.evaluate(r).await?;
        self.1.lock().unwrap().push(*resp.output.expose_secret());
        Ok(resp)
    }
}

#[tokio::test]
async fn no_prf_output_key_or_credential_secret_shows_in_debug_errors_or_logs() {
    const CRED_RANDOM: [u8; 32] = [0xc3; 32];
    let soft = SoftwareAuthenticator::from_seed(b"leak test");
    let id = soft.credential_ids()[0].clone();
    let soft = SoftwareAuthenticator::new().with_credential(id.clone(), CRED_RANDOM);
    let outputs = Arc::new(Mutex::new(Vec::new()));
    let auth: Arc<dyn PrfAuthenticator> = Arc::new(Recording(soft.clone(), outputs.clone()));
    let user = UserId::new("leaky").unwrap();
    let provider = PasskeyProvider::builder().rp_id("wallet.example.com").build().unwrap();
    let ctx = |a: Arc<dyn PrfAuthenticator>, b: BackupId| {
        Context::new(user.clone(), b).with_configs(Configs::new().with(PasskeyConfig::new(a, vec![id.clone()])))
    };
    let capture = Capture::default();
    let mut texts = Vec::new();
    let (needles, _) = async {
        let share = BackupShare::new(vec![0x77; 40]).unwrap();
        let sctx = ctx(auth.clone(), BackupId::generate().unwrap());
        let (env, key) = provider.seal_share(&share, &sctx).await.unwrap();
        let rctx = ctx(auth.clone(), env.backup_id());
        provider.open_envelope(&env, &rctx).await.unwrap();
        texts.push(format!("{provider:?} {sctx:?} {rctx:?} {env:?} {:?}", env.key_header()));
        let failing = [
            SoftwareAuthenticator::new().with_credential(id.clone(), [0x01; 32]),
            SoftwareAuthenticator::from_seed(b"someone else"),
            soft.clone().with_behaviour(Behaviour::NoPrf),
            soft.clone().with_behaviour(Behaviour::Cancel),
        ];
        for a in failing {
            let e = provider.open_key(env.key_header(), &ctx(Arc::new(a), env.backup_id())).await.unwrap_err();
            texts.push(format!("{e} {e:#} {e:?}"));
        }
        let mut needles = Needles::new();
        needles.add_bytes("the data key", key.expose_secret());
        needles.add_bytes("the credential secret", &CRED_RANDOM);
        for o in outputs.lock().unwrap().iter() {
            needles.add_bytes("a PRF output", o);
        }
        assert!(outputs.lock().unwrap().len() >= 2);
        for t in &texts {
            assert_eq!(needles.find(t), None, "{t}");
        }
        assert_eq!(needles.find_in_bytes(env.key_header().as_bytes()), None);
        (needles, texts.len())
    }
    .with_subscriber(capture.clone())
    .await;
    assert_eq!(needles.find(&capture.text()), None, "a tracing event shows a secret");
    assert!(capture.text().contains("passkey.seal_key"), "the calls were traced: {}", capture.text());
}
