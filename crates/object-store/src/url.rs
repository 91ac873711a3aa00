//! Building a store from a URL and options.

use std::sync::{Arc, Once};

use object_store::ObjectStore;
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use share_backup_core::{Error, ErrorKind, Result};
use url::Url;

use crate::error::map_object_store_error;
use crate::store::{ObjectCipherTextStore, ObjectCipherTextStoreBuilder};

/// The `from_url` option that sets the secret salt of the namespace paths, as hex.
pub const SALT_OPTION: &str = "salt_hex";

/// Installs aws-lc-rs as rustls' process-wide crypto provider, once, unless
/// one is installed already. With both `ring` and `aws-lc-rs` in a binary's
/// dependency tree, rustls cannot pick one by itself and the first TLS
/// connection panics; calling this first avoids that. Idempotent and cheap.
pub fn install_default_crypto_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        #[cfg(any(feature = "aws", feature = "azure", feature = "gcp"))]
        if rustls::crypto::CryptoProvider::get_default().is_none() {
            // Losing a race to another installer is fine: one is installed.
            let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        }
    });
}

fn scheme_error(url: &str) -> Error {
    Error::invalid_input(format!(
        "unsupported store URL {:?}: use file:///absolute/dir, memory://, s3://bucket/prefix, az://container/prefix or gs://bucket/prefix",
        redact(url)
    ))
}

/// The URL without any user info or query (which may hold credentials).
fn redact(url: &str) -> String {
    match Url::parse(url) {
        Ok(mut u) => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.set_query(None);
            u.to_string()
        }
        Err(_) => "<unparsable URL>".to_owned(),
    }
}

impl ObjectCipherTextStore {
    /// A store from a URL and backend options, ready to use.
    ///
    /// | URL | backend |
    /// | --- | --- |
    /// | `file:///var/lib/backups` | a local directory (created if missing) |
    /// | `memory://` | a fresh in-memory store (for tests) |
    /// | `s3://bucket/prefix` | S3 or an S3-compatible server (`aws_endpoint`, `aws_allow_http`) |
    /// | `az://container/prefix` | Azure Blob Storage or Azurite (`azure_storage_account_name`, `azure_storage_endpoint`, ...) |
    /// | `gs://bucket/prefix` | Google Cloud Storage |
    ///
    /// Options are `object_store`'s configuration keys (`aws_access_key_id`,
    /// `azure_storage_account_key`, `google_service_account`, ...); for the
    /// cloud backends, the matching environment variables (`AWS_*`,
    /// `AZURE_*`, `GOOGLE_*`) are read first and options override them.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`] for a malformed or unsupported URL, an
    /// unknown option or a bad value; [`ErrorKind::Unsupported`] when the
    /// backend's cargo feature is off.
    pub fn from_url<I, K, V>(url: &str, options: I) -> Result<Self>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: Into<String>,
    {
        Ok(Self::builder_from_url(url, options)?.build())
    }

    /// A store in a local directory (created if missing).
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`] when the directory cannot be created.
    pub fn local_dir(dir: impl AsRef<std::path::Path>) -> Result<Self> {
        let dir = dir.as_ref();
        std::fs::create_dir_all(dir).map_err(|e| {
            Error::invalid_input(format!("cannot create the store directory {}", dir.display())).with_source(e)
        })?;
        let fs = LocalFileSystem::new_with_prefix(dir)
            .map_err(|e| map_object_store_error(e, "open the store directory", &dir.display().to_string()))?;
        Ok(Self::builder(Arc::new(fs)).label(format!("file://{}", dir.display())).build())
    }

    /// Like [`Self::from_url`], returning the builder to set a salt, a retry
    /// policy or a label. The URL's path becomes the prefix. The option
    /// `salt_hex` (not passed to `object_store`) sets the secret salt of the
    /// namespace paths ([`ObjectCipherTextStoreBuilder::user_id_salt`]); without
    /// it the salt is empty and anyone who can list the bucket can test a
    /// guessed user id.
    ///
    /// # Errors
    /// As [`Self::from_url`].
    pub fn builder_from_url<I, K, V>(url: &str, options: I) -> Result<ObjectCipherTextStoreBuilder>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: Into<String>,
    {
        let parsed = Url::parse(url)
            .map_err(|e| Error::invalid_input(format!("invalid store URL {:?}", redact(url))).with_source(e))?;
        let mut options: Vec<(String, String)> =
            options.into_iter().map(|(k, v)| (k.as_ref().to_ascii_lowercase(), v.into())).collect();
        // Ours, not object_store's: the secret HMAC salt of the namespace
        // paths, as hex (see `user_id_salt`).
        let salt = match options.iter().position(|(k, _)| k == SALT_OPTION) {
            Some(i) => {
                let (_, v) = options.remove(i);
                Some(hex::decode(v.trim()).map_err(|_| {
                    Error::invalid_input(format!("the store option {SALT_OPTION} is not hex"))
                        .with_hint("give the salt as hex digits, e.g. 32 random bytes: `openssl rand -hex 32`")
                })?)
            }
            None => None,
        };
        let builder = Self::builder_from_parsed(url, parsed, options)?;
        Ok(match salt {
            Some(s) => builder.user_id_salt(s),
            None => builder,
        })
    }

    fn builder_from_parsed(
        url: &str,
        parsed: Url,
        options: Vec<(String, String)>,
    ) -> Result<ObjectCipherTextStoreBuilder> {
        let label = redact(url);
        match parsed.scheme() {
            "file" => {
                reject_options(&options, "file")?;
                let dir = parsed.to_file_path().map_err(|()| {
                    Error::invalid_input(format!("{label:?} is not an absolute file URL: use file:///absolute/dir"))
                })?;
                std::fs::create_dir_all(&dir).map_err(|e| {
                    Error::invalid_input(format!("cannot create the store directory {}", dir.display())).with_source(e)
                })?;
                let fs = LocalFileSystem::new_with_prefix(&dir)
                    .map_err(|e| map_object_store_error(e, "open the store directory", &label))?;
                Ok(Self::builder(Arc::new(fs)).label(label))
            }
            "memory" => {
                reject_options(&options, "memory")?;
                let b = Self::builder(Arc::new(InMemory::new())).label(label);
                b.prefix(parsed.path())
            }
            _ => {
                let (scheme, path) = object_store::ObjectStoreScheme::parse(&parsed).map_err(|_| scheme_error(url))?;
                let backend = cloud_backend(scheme, &parsed, &options, &label)?;
                install_default_crypto_provider();
                Self::builder(backend).label(label).prefix(path.as_ref())
            }
        }
    }
}

fn reject_options(options: &[(String, String)], scheme: &str) -> Result<()> {
    if let Some((k, _)) = options.first() {
        return Err(Error::invalid_input(format!("{scheme}:// stores take no options, got {k:?}")));
    }
    Ok(())
}

#[allow(unused_variables)]
fn cloud_backend(
    scheme: object_store::ObjectStoreScheme,
    url: &Url,
    options: &[(String, String)],
    label: &str,
) -> Result<Arc<dyn ObjectStore>> {
    use object_store::ObjectStoreScheme as S;
    let unknown = |k: &str| Error::invalid_input(format!("unknown option {k:?} for {label}"));
    let build_err = |e: object_store::Error| {
        let e = map_object_store_error(e, "configure the store", label);
        if e.kind() == &ErrorKind::Unavailable {
            Error::invalid_input(e.message().to_owned()).with_hint("check the store URL and options")
        } else {
            e
        }
    };
    match scheme {
        #[cfg(feature = "aws")]
        S::AmazonS3 => {
            let mut b = object_store::aws::AmazonS3Builder::from_env().with_url(url.as_str());
            for (k, v) in options {
                b = b.with_config(k.parse().map_err(|_| unknown(k))?, v.clone());
            }
            Ok(Arc::new(b.build().map_err(build_err)?))
        }
        #[cfg(feature = "azure")]
        S::MicrosoftAzure => {
            let mut b = object_store::azure::MicrosoftAzureBuilder::from_env().with_url(url.as_str());
            for (k, v) in options {
                b = b.with_config(k.parse().map_err(|_| unknown(k))?, v.clone());
            }
            Ok(Arc::new(b.build().map_err(build_err)?))
        }
        #[cfg(feature = "gcp")]
        S::GoogleCloudStorage => {
            let mut b = object_store::gcp::GoogleCloudStorageBuilder::from_env().with_url(url.as_str());
            for (k, v) in options {
                b = b.with_config(k.parse().map_err(|_| unknown(k))?, v.clone());
            }
            Ok(Arc::new(b.build().map_err(build_err)?))
        }
        S::Local | S::Memory => Err(scheme_error(url.as_str())),
        other => Err(Error::unsupported(format!(
            "{label}: the {other:?} backend is not enabled; turn on this crate's cargo feature for it"
        ))),
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn the_salt_option_is_hex_and_never_reaches_object_store() {
        let e = ObjectCipherTextStore::from_url("memory://", [("salt_hex", "not hex")]).unwrap_err();
        assert_eq!(e.kind(), &ErrorKind::InvalidInput);
        assert!(!e.to_string().contains("not hex\""), "{e}");
        // memory:// takes no object_store options: the salt was taken out.
        let s = ObjectCipherTextStore::from_url("memory://", [("SALT_HEX", "00ff")]).unwrap();
        assert!(format!("{s:?}").contains("salt_len: 2"), "{s:?}");
    }

    use super::*;

    #[test]
    fn unsupported_schemes_and_options_are_invalid_input() {
        let e = ObjectCipherTextStore::from_url("ftp://host/dir", Vec::<(String, String)>::new()).unwrap_err();
        assert_eq!(e.kind(), &ErrorKind::InvalidInput, "{e}");
        let e = ObjectCipherTextStore::from_url("memory://", [("aws_region", "x")]).unwrap_err();
        assert_eq!(e.kind(), &ErrorKind::InvalidInput);
        let e = ObjectCipherTextStore::from_url("not a url", Vec::<(String, String)>::new()).unwrap_err();
        assert_eq!(e.kind(), &ErrorKind::InvalidInput);
    }

    #[cfg(feature = "aws")]
    #[test]
    fn an_unknown_option_is_named_in_the_error() {
        let e = ObjectCipherTextStore::from_url("s3://bucket/p", [("aws_colour", "blue")]).unwrap_err();
        assert_eq!(e.kind(), &ErrorKind::InvalidInput);
        assert!(e.message().contains("aws_colour"), "{e}");
    }

    #[test]
    fn credentials_in_a_url_never_reach_messages_or_labels() {
        let e =
            ObjectCipherTextStore::from_url("ftp://user:hunter2@host/dir?sig=s3cr3t", Vec::<(String, String)>::new())
                .unwrap_err();
        let shown = format!("{e} {e:?} {e:#}");
        assert!(!shown.contains("hunter2") && !shown.contains("s3cr3t"), "{shown}");
    }

    #[cfg(feature = "aws")]
    #[test]
    fn the_url_path_becomes_the_prefix() {
        let s = ObjectCipherTextStore::from_url(
            "s3://bucket/tenant/backups",
            [("aws_region", "us-east-1"), ("aws_access_key_id", "AKIA"), ("aws_secret_access_key", "sekrit")],
        )
        .unwrap();
        assert_eq!(s.prefix().as_ref(), "tenant/backups");
        assert!(!format!("{s:?} {s}").contains("sekrit"));
        let m = ObjectCipherTextStore::from_url("memory:///a/b", Vec::<(String, String)>::new()).unwrap();
        assert_eq!(m.prefix().as_ref(), "a/b");
    }

    #[test]
    fn file_urls_create_the_directory() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("nested/store");
        let url = Url::from_directory_path(&sub).unwrap();
        let s = ObjectCipherTextStore::from_url(url.as_str(), Vec::<(String, String)>::new()).unwrap();
        assert!(sub.is_dir());
        assert!(s.prefix().is_root());
        let e = ObjectCipherTextStore::from_url("file://relative", Vec::<(String, String)>::new()).unwrap_err();
        assert_eq!(e.kind(), &ErrorKind::InvalidInput);
    }
}
