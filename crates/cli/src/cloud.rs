//! Missing cloud-store credentials, told as such: which variables to set,
//! instead of "unreachable; retry later".

use share_backup::{Error, ErrorKind};

/// The cloud a store URL is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cloud {
    /// `s3://` (Amazon S3 and S3-compatible servers).
    Aws,
    /// `az://`, `azure://`, `abfs(s)://`, `adl://`.
    Azure,
}

const AWS_HINT: &str = "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_REGION; AWS_ENDPOINT for an \
     S3-compatible server), or run where an instance or container role provides them";
const AZURE_HINT: &str = "set AZURE_STORAGE_ACCOUNT_NAME and AZURE_STORAGE_ACCOUNT_KEY (or AZURE_STORAGE_SAS_KEY, \
     or run with a managed identity; AZURE_STORAGE_ENDPOINT for an emulator such as Azurite), \
     or the same keys in lower case under [store.options]";

/// The cloud of a store URL, if it is one whose credentials the tool explains.
pub fn cloud_of(url: &str) -> Option<Cloud> {
    let scheme = url.split_once("://")?.0.to_ascii_lowercase();
    match scheme.as_str() {
        "s3" | "s3a" => Some(Cloud::Aws),
        "az" | "azure" | "abfs" | "abfss" | "adl" => Some(Cloud::Azure),
        _ => None,
    }
}

/// What the store's configuration says, from the environment variable
/// names set (non-empty) and the `[store.options]` keys.
#[derive(Debug, Clone, Default)]
pub struct Given {
    names: Vec<String>,
}

impl Given {
    /// From the environment and the store options (only names are kept, never values).
    pub fn new<'a>(env: impl IntoIterator<Item = (String, bool)>, options: impl IntoIterator<Item = &'a str>) -> Self {
        let mut names: Vec<String> =
            env.into_iter().filter(|(_, set)| *set).map(|(k, _)| k.to_ascii_lowercase()).collect();
        names.extend(options.into_iter().map(str::to_ascii_lowercase));
        Given { names }
    }

    fn any(&self, f: impl Fn(&str) -> bool) -> bool {
        self.names.iter().any(|n| f(n))
    }

    /// Whether credentials (or a way to do without) are given explicitly;
    /// otherwise the store falls back to the instance-metadata service.
    pub fn explicit_credentials(&self, cloud: Cloud) -> bool {
        match cloud {
            Cloud::Aws => self.any(|n| {
                n.ends_with("access_key_id")
                    || n.contains("skip_signature")
                    || n.contains("container_credentials")
                    || n.contains("web_identity_token")
            }),
            Cloud::Azure => self.any(|n| {
                n.starts_with("azure")
                    && ["key", "sas", "token", "secret", "emulator", "skip_signature"].iter().any(|w| n.contains(w))
                    || [
                        "account_key",
                        "access_key",
                        "master_key",
                        "sas_key",
                        "sas_token",
                        "bearer_token",
                        "client_secret",
                    ]
                    .contains(&n)
            }),
        }
    }

    /// Whether an Azure storage account is named.
    fn azure_account(&self) -> bool {
        self.any(|n| {
            n == "azure_storage_account_name"
                || n == "azure_storage_account"
                || n == "account_name"
                || n == "azure_storage_use_emulator"
                || n == "use_emulator"
        })
    }
}

/// Refuses a store that cannot work as configured, before any network call:
/// an Azure URL that names no storage account.
pub fn precheck(url: &str, given: &Given) -> Result<(), Error> {
    if cloud_of(url) == Some(Cloud::Azure) && !given.azure_account() {
        return Err(Error::new(
            ErrorKind::Unauthenticated,
            format!("the store {url} names no Azure storage account and no credentials are set"),
        )
        .with_hint(AZURE_HINT));
    }
    Ok(())
}

/// Markers of a failed instance-metadata credential lookup in an error's causes.
const METADATA_MARKERS: &[&str] =
    &["/latest/api/token", "/latest/meta-data", "metadata/identity/oauth2/token", "169.254.169.254"];

/// Rewrites a store failure caused by a failed credential lookup (no
/// credentials set, and no instance role) as missing credentials (exit 6),
/// naming the variables to set. Other errors are returned as they are.
pub fn explain(url: &str, given: &Given, e: Error) -> Error {
    let Some(cloud) = cloud_of(url) else { return e };
    let store_failure =
        matches!(e.kind(), ErrorKind::Unavailable | ErrorKind::Unauthenticated | ErrorKind::PermissionDenied);
    if !store_failure || given.explicit_credentials(cloud) {
        return e;
    }
    let chain = format!("{e:#}");
    if !METADATA_MARKERS.iter().any(|m| chain.contains(m)) {
        return e;
    }
    let (name, hint) = match cloud {
        Cloud::Aws => ("AWS", AWS_HINT),
        Cloud::Azure => ("Azure", AZURE_HINT),
    };
    Error::new(
        ErrorKind::Unauthenticated,
        format!("no {name} credentials for the store {url}: none are set, and the instance-metadata lookup failed"),
    )
    .with_hint(hint)
    .with_source(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn given(env: &[&str], options: &[&str]) -> Given {
        Given::new(env.iter().map(|k| ((*k).to_owned(), true)), options.iter().copied())
    }

    #[test]
    fn an_azure_url_without_an_account_names_the_variables() {
        let e = precheck("az://c/p", &given(&[], &[])).unwrap_err();
        assert_eq!(e.kind(), &ErrorKind::Unauthenticated);
        assert!(e.to_string().contains("AZURE_STORAGE_ACCOUNT_NAME"), "{e}");
        assert!(precheck("az://c/p", &given(&["AZURE_STORAGE_ACCOUNT_NAME"], &[])).is_ok());
        assert!(precheck("az://c/p", &given(&[], &["azure_storage_account_name"])).is_ok());
        assert!(precheck("s3://b/p", &given(&[], &[])).is_ok());
    }

    #[test]
    fn only_a_failed_metadata_lookup_without_credentials_is_rewritten() {
        let imds = || {
            Error::new(ErrorKind::Unavailable, "s3://b failed")
                .with_source(std::io::Error::other("PUT http://169.254.169.254/latest/api/token: 403"))
        };
        let e = explain("s3://b/p", &given(&[], &[]), imds());
        assert_eq!(e.kind(), &ErrorKind::Unauthenticated);
        assert!(e.to_string().contains("AWS_ACCESS_KEY_ID") && e.to_string().contains("AWS_REGION"), "{e}");
        let e = explain("s3://b/p", &given(&["AWS_ACCESS_KEY_ID"], &[]), imds());
        assert_eq!(e.kind(), &ErrorKind::Unavailable, "credentials were given: the error stays");
        let e = explain("s3://b/p", &given(&[], &[]), Error::new(ErrorKind::Unavailable, "down"));
        assert_eq!(e.kind(), &ErrorKind::Unavailable, "another cause: the error stays");
        let e = explain("file:///x/", &given(&[], &[]), imds());
        assert_eq!(e.kind(), &ErrorKind::Unavailable);
    }
}
