//! `object_store::ObjectStore` over an app's [`KeyValueStore`], so that
//! `share-backup-object-store` runs its versioned, create-only commit
//! protocol on top of it unchanged.
//!
//! Values are stored framed: `SBKV1`, the write time (unix milliseconds,
//! 8 bytes big-endian), then the bytes. The write time is the object's
//! `last_modified` (the store orders versions and keeps young staged ones
//! by it); a value without the frame is refused as not written here.

use std::fmt;
use std::ops::Range;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use futures::stream::{self, BoxStream, StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{
    Attributes, CopyOptions, Error as OsError, GetOptions, GetResult, GetResultPayload, ListResult, MultipartUpload,
    ObjectMeta, ObjectStore, PutMode, PutMultipartOptions, PutOptions, PutPayload, PutResult, Result as OsResult,
};
use share_backup_core::{Error as CoreError, ErrorKind as CoreKind};

use crate::foreign::KeyValueStore;
use crate::runtime::call_foreign;

const MAGIC: &[u8; 5] = b"SBKV1";
const FRAME: usize = MAGIC.len() + 8;
const STORE: &str = "app key-value store";

/// The app's key-value store as an `object_store` backend.
#[derive(Clone)]
pub(crate) struct AppObjectStore {
    inner: Arc<dyn KeyValueStore>,
    timeout: Option<Duration>,
}

impl AppObjectStore {
    pub(crate) fn new(inner: Arc<dyn KeyValueStore>, timeout: Option<Duration>) -> Self {
        AppObjectStore { inner, timeout }
    }

    async fn get_value(&self, key: &Path) -> OsResult<Option<(ObjectMeta, Bytes)>> {
        let (inner, k) = (self.inner.clone(), key.to_string());
        let v = call_foreign("the app's store (get)", self.timeout, move || inner.get(k)).await.map_err(generic)?;
        let Some(v) = v else { return Ok(None) };
        let (meta, body) = unframe(key, v)?;
        Ok(Some((meta, body)))
    }

    /// Every object under `prefix` (segment-wise, as `object_store` means it).
    async fn list_all(&self, prefix: Option<&Path>) -> OsResult<Vec<ObjectMeta>> {
        let want = match prefix {
            Some(p) if !p.as_ref().is_empty() => format!("{p}{}", object_store::path::DELIMITER),
            _ => String::new(),
        };
        let (inner, w) = (self.inner.clone(), want.clone());
        let mut keys =
            call_foreign("the app's store (list)", self.timeout, move || inner.list(w)).await.map_err(generic)?;
        keys.retain(|k| k.starts_with(&want));
        keys.sort();
        keys.dedup();
        let mut out = Vec::with_capacity(keys.len());
        for k in keys {
            let path = Path::parse(&k).map_err(|e| OsError::Generic { store: STORE, source: Box::new(e) })?;
            // Listed, then deleted before this read: not there any more.
            if let Some((meta, _)) = self.get_value(&path).await? {
                out.push(meta);
            }
        }
        Ok(out)
    }
}

impl fmt::Debug for AppObjectStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AppObjectStore")
    }
}

impl fmt::Display for AppObjectStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(STORE)
    }
}

/// The app's error (or one of this adapter's) as the source of a `Generic`
/// error; `share-backup-object-store` recovers it by downcast, so the
/// caller sees its kind, message and retryable flag unchanged.
fn generic(e: CoreError) -> OsError {
    OsError::Generic { store: STORE, source: Box::new(e) }
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn frame(body: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(FRAME + body.len());
    v.extend_from_slice(MAGIC);
    v.extend_from_slice(&now_ms().to_be_bytes());
    v.extend_from_slice(body);
    v
}

fn unframe(key: &Path, v: Vec<u8>) -> OsResult<(ObjectMeta, Bytes)> {
    if v.len() < FRAME || &v[..MAGIC.len()] != MAGIC {
        // An Integrity error inside the Generic one: the object-store crate
        // passes share-backup's own errors through with their kind.
        return Err(generic(CoreError::new(
            CoreKind::Integrity,
            format!(
                "the value of {key} is not one share-backup wrote (no SBKV1 frame, {} bytes): the app's store returned other bytes than it was given",
                v.len()
            ),
        )));
    }
    let mut ms = [0u8; 8];
    ms.copy_from_slice(&v[MAGIC.len()..FRAME]);
    let ms = i64::try_from(u64::from_be_bytes(ms)).unwrap_or(i64::MAX);
    let last_modified = chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default();
    let body = Bytes::from(v).slice(FRAME..);
    let meta = ObjectMeta { location: key.clone(), last_modified, size: body.len() as u64, e_tag: None, version: None };
    Ok((meta, body))
}

#[async_trait::async_trait]
impl ObjectStore for AppObjectStore {
    async fn put_opts(&self, location: &Path, payload: PutPayload, opts: PutOptions) -> OsResult<PutResult> {
        let body: Bytes = payload.into();
        let value = frame(&body);
        let (inner, k) = (self.inner.clone(), location.to_string());
        match opts.mode {
            PutMode::Overwrite => {
                call_foreign("the app's store (put)", self.timeout, move || inner.put(k, value))
                    .await
                    .map_err(generic)?;
            }
            PutMode::Create => {
                let created = call_foreign("the app's store (put_if_absent)", self.timeout, move || {
                    inner.put_if_absent(k, value)
                })
                .await
                .map_err(generic)?;
                if !created {
                    return Err(OsError::AlreadyExists {
                        path: location.to_string(),
                        source: "the key exists (put_if_absent returned false)".into(),
                    });
                }
            }
            PutMode::Update(_) => {
                return Err(OsError::NotImplemented {
                    operation: "put_opts with PutMode::Update".into(),
                    implementer: STORE.into(),
                });
            }
        }
        Ok(PutResult { e_tag: None, version: None, extensions: Default::default() })
    }

    async fn put_multipart_opts(
        &self,
        _location: &Path,
        _opts: PutMultipartOptions,
    ) -> OsResult<Box<dyn MultipartUpload>> {
        Err(OsError::NotImplemented { operation: "put_multipart_opts".into(), implementer: STORE.into() })
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> OsResult<GetResult> {
        let Some((meta, body)) = self.get_value(location).await? else {
            return Err(OsError::NotFound { path: location.to_string(), source: "no such key".into() });
        };
        options.check_preconditions(&meta)?;
        let range: Range<u64> = match &options.range {
            Some(r) => r.as_range(meta.size).map_err(|e| OsError::Generic { store: STORE, source: Box::new(e) })?,
            None => 0..meta.size,
        };
        let part = if options.head {
            Bytes::new()
        } else {
            body.slice(
                usize::try_from(range.start).unwrap_or(usize::MAX)..usize::try_from(range.end).unwrap_or(usize::MAX),
            )
        };
        Ok(GetResult {
            payload: GetResultPayload::Stream(stream::once(async move { Ok(part) }).boxed()),
            meta,
            range,
            attributes: Attributes::default(),
            extensions: Default::default(),
        })
    }

    fn delete_stream(&self, locations: BoxStream<'static, OsResult<Path>>) -> BoxStream<'static, OsResult<Path>> {
        let this = self.clone();
        locations
            .and_then(move |p| {
                let this = this.clone();
                async move {
                    let (inner, k) = (this.inner.clone(), p.to_string());
                    call_foreign("the app's store (delete)", this.timeout, move || inner.delete(k))
                        .await
                        .map_err(generic)?;
                    Ok(p)
                }
            })
            .boxed()
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, OsResult<ObjectMeta>> {
        let this = self.clone();
        let prefix = prefix.cloned();
        stream::once(async move { this.list_all(prefix.as_ref()).await })
            .map_ok(|v| stream::iter(v.into_iter().map(Ok)))
            .try_flatten()
            .boxed()
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> OsResult<ListResult> {
        let depth = prefix.map_or(0, |p| p.parts().count());
        let all = self.list_all(prefix).await?;
        let mut common: Vec<Path> = Vec::new();
        let mut objects = Vec::new();
        for meta in all {
            let parts = meta.location.parts().count();
            if parts == depth + 1 {
                objects.push(meta);
            } else if parts > depth + 1 {
                let dir: Path = meta.location.parts().take(depth + 1).collect();
                if !common.contains(&dir) {
                    common.push(dir);
                }
            }
        }
        common.sort();
        Ok(ListResult { common_prefixes: common, objects, extensions: Default::default() })
    }

    async fn copy_opts(&self, _from: &Path, _to: &Path, _options: CopyOptions) -> OsResult<()> {
        Err(OsError::NotImplemented { operation: "copy_opts".into(), implementer: STORE.into() })
    }
}
