//! seal_key / open_key time with 1 and 5 enrolled passkeys on the software
//! authenticator (the ceremony itself is the platform's and not measured),
//! and the key header's size. `cargo bench -p share-backup-passkey --bench seal_open`.

use std::sync::Arc;
use std::time::Instant;

use share_backup_core::{BackupId, BackupProvider, Configs, Context, UserId};
use share_backup_passkey::{PasskeyConfig, PasskeyProvider, SoftwareAuthenticator};

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let provider = PasskeyProvider::builder().rp_id("wallet.example.com").build().unwrap();
    let user = UserId::new("bench-user").unwrap();
    for n in [1usize, 5] {
        let mut auth = SoftwareAuthenticator::new();
        let ids: Vec<_> = (0..n).map(|_| auth.create_credential().unwrap()).collect();
        let configs = Configs::new().with(PasskeyConfig::new(Arc::new(auth), ids));
        let iters = 2000u32;
        let (mut seal, mut open, mut header_len) = (0f64, 0f64, 0);
        for _ in 0..iters {
            let ctx = Context::new(user.clone(), BackupId::generate().unwrap()).with_configs(configs.clone());
            let t = Instant::now();
            let sealed = rt.block_on(provider.seal_key(&ctx)).unwrap();
            seal += t.elapsed().as_secs_f64();
            header_len = sealed.header.as_bytes().len();
            let t = Instant::now();
            let key = rt.block_on(provider.open_key(&sealed.header, &ctx)).unwrap();
            open += t.elapsed().as_secs_f64();
            assert!(key == sealed.key);
        }
        let us = |s: f64| s / f64::from(iters) * 1e6;
        println!(
            "passkeys={n} seal_key={:.1} us open_key={:.1} us key_header={header_len} bytes ({iters} iterations)",
            us(seal),
            us(open)
        );
    }
}
