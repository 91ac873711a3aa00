//! Routing and the Drive v3 semantics of the fake.

use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use crate::query::Term;
use crate::{APPDATA_ID, FOLDER_MIME, FakeFile, Fault, Inner, ROOT_ID, RecordedRequest, Scope, Shared, Space};

const MAX_BODY: usize = 8 << 20;

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new().fallback(handle).layer(DefaultBodyLimit::max(MAX_BODY)).with_state(shared)
}

/// A fresh file id in Drive's alphabet.
pub(crate) fn new_id() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut raw = [0u8; 32];
    getrandom::fill(&mut raw).unwrap_or_else(|_| {
        // Fall back on the address of a stack value and the time: ids only need to be unique.
        let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
        raw[..16].copy_from_slice(&t.to_le_bytes());
    });
    let mut id = String::with_capacity(33);
    id.push('1');
    id.extend(raw.iter().map(|b| ALPHABET[usize::from(b & 63)] as char));
    id
}

struct Reply {
    status: StatusCode,
    content_type: String,
    body: Vec<u8>,
}

impl Reply {
    fn json(status: StatusCode, v: &Value) -> Reply {
        Reply { status, content_type: "application/json; charset=UTF-8".into(), body: v.to_string().into_bytes() }
    }
}

/// Google's JSON error body.
fn gerror(code: u16, reason: &str, domain: &str, message: &str, location: Option<(&str, &str)>) -> Reply {
    let mut item = json!({"message": message, "domain": domain, "reason": reason});
    if let Some((loc, ty)) = location {
        item["location"] = json!(loc);
        item["locationType"] = json!(ty);
    }
    let status_name = match code {
        400 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        409 => "ABORTED",
        412 => "FAILED_PRECONDITION",
        429 => "RESOURCE_EXHAUSTED",
        500 => "INTERNAL",
        503 => "UNAVAILABLE",
        504 => "DEADLINE_EXCEEDED",
        _ => "UNKNOWN",
    };
    let body = json!({"error": {"code": code, "message": message, "errors": [item], "status": status_name}});
    Reply::json(StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR), &body)
}

fn html(code: u16) -> Reply {
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_GATEWAY);
    let body = format!(
        "<!DOCTYPE html><html lang=en><title>Error {code} ({})!!1</title><p><b>{code}.</b> That's an error.</p></html>",
        status.canonical_reason().unwrap_or("Error")
    );
    Reply { status, content_type: "text/html; charset=UTF-8".into(), body: body.into_bytes() }
}

fn invalid(location: &str) -> Reply {
    gerror(400, "invalid", "global", &format!("Invalid Value: {location}"), Some((location, "parameter")))
}

fn bad_request(message: &str) -> Reply {
    gerror(400, "badRequest", "global", message, None)
}

fn not_found(id: &str) -> Reply {
    let m = format!("File not found: {id}.");
    gerror(404, "notFound", "global", &m, Some(("fileId", "parameter")))
}

fn insufficient_scope() -> Reply {
    gerror(403, "insufficientPermissions", "global", "Request had insufficient authentication scopes.", None)
}

fn fault_reply(f: &Fault) -> Reply {
    match f {
        Fault::TooManyRequests => gerror(429, "rateLimitExceeded", "usageLimits", "Rate Limit Exceeded", None),
        Fault::RateLimitExceeded => gerror(403, "rateLimitExceeded", "usageLimits", "Rate Limit Exceeded", None),
        Fault::UserRateLimitExceeded => {
            gerror(403, "userRateLimitExceeded", "usageLimits", "User Rate Limit Exceeded", None)
        }
        Fault::InternalError => gerror(500, "backendError", "global", "Backend Error", None),
        Fault::BadGateway => html(502),
        Fault::ServiceUnavailable => gerror(503, "backendError", "global", "Backend Error", None),
        Fault::GatewayTimeout => html(504),
        Fault::Unauthorized => unauthorized(),
        Fault::InsufficientPermissions => insufficient_scope(),
        Fault::StorageQuotaExceeded => quota_exceeded(),
        Fault::Status { code, reason } => {
            let code = if (100..=599).contains(code) { *code } else { 500 };
            let domain =
                if reason.contains("RateLimit") || reason.contains("rateLimit") { "usageLimits" } else { "global" };
            let message = StatusCode::from_u16(code).ok().and_then(|s| s.canonical_reason()).unwrap_or("Error");
            gerror(code, reason, domain, message, None)
        }
    }
}

/// The OAuth 2 token endpoint: `grant_type=refresh_token` for the refresh
/// tokens the test registered; errors as RFC 6749 section 5.2 says.
fn token_endpoint(g: &mut Inner, headers: &HeaderMap, body: &[u8]) -> Reply {
    let oauth_error = |status: StatusCode, error: &str| Reply::json(status, &json!({"error": error}));
    let ct = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if !ct.starts_with("application/x-www-form-urlencoded") {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_request");
    }
    let form: Vec<(String, String)> = url::form_urlencoded::parse(body).into_owned().collect();
    let get = |k: &str| form.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
    if get("grant_type") != Some("refresh_token") {
        return oauth_error(StatusCode::BAD_REQUEST, "unsupported_grant_type");
    }
    if get("client_id").is_none_or(str::is_empty) {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client");
    }
    let Some(scopes) = get("refresh_token").and_then(|r| g.refresh_tokens.get(r)).cloned() else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant");
    };
    g.issued += 1;
    let token = format!("fake-access-{}", g.issued);
    let scope = scopes.iter().map(Scope::url).collect::<Vec<_>>().join(" ");
    g.tokens.insert(token.clone(), (crate::DEFAULT_ACCOUNT.to_owned(), scopes));
    Reply::json(
        StatusCode::OK,
        &json!({"access_token": token, "expires_in": 3599, "scope": scope, "token_type": "Bearer"}),
    )
}

fn unauthorized() -> Reply {
    gerror(
        401,
        "authError",
        "global",
        "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.",
        Some(("Authorization", "header")),
    )
}

fn quota_exceeded() -> Reply {
    gerror(403, "storageQuotaExceeded", "global", "The user's Drive storage quota has been exceeded.", None)
}

fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let h = b.get(i + 1..i + 3)?;
            let h = std::str::from_utf8(h).ok()?;
            out.push(u8::from_str_radix(h, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

struct Req<'a> {
    method: &'a Method,
    path: &'a str,
    query: &'a [(String, String)],
    headers: &'a HeaderMap,
    body: &'a [u8],
    scopes: &'a [Scope],
    account: &'a str,
}

impl Req<'_> {
    fn param(&self, k: &str) -> Option<&str> {
        self.query.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str())
    }
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let query: Vec<(String, String)> =
        url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes()).into_owned().collect();
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned);
    let latency = shared.lock().latency;
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let reply = {
        let mut g = shared.lock();
        let token_request = method == Method::POST && uri.path() == "/token";
        let fault = if token_request { None } else { g.faults.pop_front() };
        let reply = if token_request {
            token_endpoint(&mut g, &headers, &body)
        } else if let Some((f, false)) = &fault {
            fault_reply(f)
        } else {
            let known = bearer
                .as_deref()
                .and_then(|t| g.tokens.get(t).cloned().or_else(|| g.any_token.clone().map(|s| (t.to_owned(), s))));
            let real = match known {
                None if bearer.is_none() => gerror(
                    401,
                    "required",
                    "global",
                    "Request is missing required authentication credential.",
                    Some(("Authorization", "header")),
                ),
                None => unauthorized(),
                Some((account, scopes)) => {
                    let req = Req {
                        method: &method,
                        path: uri.path(),
                        query: &query,
                        headers: &headers,
                        body: &body,
                        scopes: &scopes,
                        account: &account,
                    };
                    route(&mut g, &req)
                }
            };
            match &fault {
                Some((f, true)) => fault_reply(f),
                _ => real,
            }
        };
        g.log.push(RecordedRequest {
            method: method.to_string(),
            path: uri.path().to_owned(),
            query: query.clone(),
            bearer,
            status: reply.status.as_u16(),
        });
        reply
    };
    let mut resp = (reply.status, Body::from(reply.body)).into_response();
    if let Ok(v) = HeaderValue::from_str(&reply.content_type)
        && !reply.content_type.is_empty()
    {
        resp.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    resp
}

fn route(g: &mut Inner, req: &Req<'_>) -> Reply {
    let Some(path) = percent_decode(req.path) else { return bad_request("malformed path") };
    let fields = match req.param("fields").map(crate::fields::parse) {
        None => None,
        Some(Ok(m)) => Some(m),
        Some(Err(e)) => return gerror(400, "invalidParameter", "global", &e, Some(("fields", "parameter"))),
    };
    let reply = match (req.method, path.as_str()) {
        (&Method::POST, "/upload/drive/v3/files") => upload(g, req),
        (&Method::POST, "/drive/v3/files") => create_metadata(g, req),
        (&Method::GET, "/drive/v3/files") => list(g, req),
        (&Method::GET, "/drive/v3/about") => about(g, req),
        (m, p) if p.starts_with("/drive/v3/files/") && !p["/drive/v3/files/".len()..].contains('/') => {
            let id = &p["/drive/v3/files/".len()..];
            match *m {
                Method::GET => get(g, req, id),
                Method::DELETE => delete(g, req, id),
                _ => return gerror(405, "methodNotAllowed", "global", "Method Not Allowed", None),
            }
        }
        _ => return gerror(404, "notFound", "global", &format!("Not Found: {}", req.path), None),
    };
    match (fields, reply) {
        (Some(mask), Ok(v)) => Reply::json(StatusCode::OK, &mask.apply(&v)),
        (None, Ok(v)) => Reply::json(StatusCode::OK, &v),
        (_, Err(r)) => r,
    }
}

/// `Ok`: a JSON resource, to which `fields` applies; `Err`: a finished reply
/// (an error, or a non-JSON success such as media or 204).
type Outcome = Result<Value, Reply>;

fn resolve_alias(id: &str) -> &str {
    match id {
        "root" => ROOT_ID,
        "appDataFolder" => APPDATA_ID,
        other => other,
    }
}

/// Whether a token with `scopes` may use `space` at all.
fn may_access(scopes: &[Scope], space: Space) -> bool {
    match space {
        Space::AppDataFolder => scopes.contains(&Scope::AppData),
        Space::Drive => scopes.contains(&Scope::Drive) || scopes.contains(&Scope::File),
    }
}

/// Whether a token with `scopes` may see this file: `drive.file` sees only
/// the files in My Drive that the app created, as in Drive.
fn may_see(scopes: &[Scope], f: &FakeFile) -> bool {
    match f.space {
        Space::AppDataFolder => scopes.contains(&Scope::AppData),
        Space::Drive => scopes.contains(&Scope::Drive) || (scopes.contains(&Scope::File) && f.created_by_app),
    }
}

fn file_json(f: &FakeFile) -> Value {
    use md5::Digest as _;
    let mut v = json!({
        "kind": "drive#file",
        "id": f.id,
        "name": f.name,
        "mimeType": f.mime_type,
        "parents": f.parents,
        "spaces": [f.space.as_str()],
        "trashed": f.trashed,
        "size": f.content.len().to_string(),
        "createdTime": format!("2026-01-01T00:00:{:02}.000Z", f.seq % 60),
        "appProperties": Value::Object(f.app_properties.clone()),
    });
    // As Google's v3 File: md5Checksum (and size) only for files with
    // binary content in Drive, not for folders.
    if f.is_folder() {
        v.as_object_mut().map(|o| o.remove("size"));
    } else {
        v["md5Checksum"] = json!(hex::encode(md5::Md5::digest(&f.content)));
    }
    v
}

/// The default partial response of a file when `fields` is absent.
fn default_file(v: &Value) -> Value {
    let mut out = Map::new();
    for k in ["kind", "id", "name", "mimeType"] {
        if let Some(x) = v.get(k) {
            out.insert(k.to_owned(), x.clone());
        }
    }
    Value::Object(out)
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Metadata {
    name: Option<String>,
    mime_type: Option<String>,
    parents: Option<Vec<String>>,
    app_properties: Option<Map<String, Value>>,
}

fn insert_file(g: &mut Inner, req: &Req<'_>, meta: Metadata, media: Option<(Vec<u8>, String)>) -> Outcome {
    let parents = meta.parents.unwrap_or_default();
    if parents.len() > 1 {
        return Err(gerror(403, "cannotAddParent", "global", "Increasing the number of parents is not allowed", None));
    }
    let parent = resolve_alias(parents.first().map_or("root", String::as_str)).to_owned();
    let space = if parent == APPDATA_ID {
        Space::AppDataFolder
    } else if parent == ROOT_ID {
        Space::Drive
    } else {
        match g
            .files
            .iter()
            .find(|f| f.id == parent && f.account == req.account && !f.trashed && may_see(req.scopes, f))
        {
            Some(p) if p.is_folder() => p.space,
            Some(_) => return Err(bad_request("The parent is not a folder.")),
            None => return Err(not_found(&parent)),
        }
    };
    if !may_access(req.scopes, space) {
        return Err(insufficient_scope());
    }
    let name = meta.name.unwrap_or_else(|| "Untitled".to_owned());
    if name.len() > 32_767 {
        return Err(bad_request("The file name is too long."));
    }
    let (content, media_type) = media.unwrap_or_default();
    let mime_type = meta.mime_type.unwrap_or(if media_type.is_empty() {
        "application/octet-stream".to_owned()
    } else {
        media_type
    });
    if mime_type == FOLDER_MIME && !content.is_empty() {
        return Err(bad_request("A folder cannot have content."));
    }
    let used: u64 = g.files.iter().filter(|f| f.account == req.account).map(|f| f.content.len() as u64).sum();
    if g.quota_limit.is_some_and(|limit| used + content.len() as u64 > limit) {
        return Err(quota_exceeded());
    }
    g.next_seq += 1;
    let f = FakeFile {
        id: new_id(),
        name,
        mime_type,
        parents: vec![parent],
        account: req.account.to_owned(),
        space,
        trashed: false,
        app_properties: meta.app_properties.unwrap_or_default(),
        content,
        seq: g.next_seq,
        created_by_app: true,
    };
    let v = file_json(&f);
    g.files.push(f);
    Ok(if req.param("fields").is_some() { v } else { default_file(&v) })
}

fn parse_metadata(bytes: &[u8]) -> Result<Metadata, Reply> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Metadata { name: None, mime_type: None, parents: None, app_properties: None });
    }
    serde_json::from_slice(bytes).map_err(|e| gerror(400, "parseError", "global", &format!("Parse Error: {e}"), None))
}

fn upload(g: &mut Inner, req: &Req<'_>) -> Outcome {
    match req.param("uploadType") {
        Some("multipart") => {}
        Some("media" | "resumable") => {
            return Err(bad_request("the fake implements only uploadType=multipart"));
        }
        _ => return Err(invalid("uploadType")),
    }
    let ct = req.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let boundary = crate::multipart::boundary(ct).map_err(|e| bad_request(&e.0))?;
    let parts = crate::multipart::parse(req.body, &boundary).map_err(|e| bad_request(&e.0))?;
    let [meta, media] = parts.as_slice() else {
        return Err(bad_request("Multipart upload needs exactly a metadata part and a media part."));
    };
    if meta.media_type().as_deref() != Some("application/json") {
        return Err(bad_request("The first part of a multipart upload must be application/json metadata."));
    }
    let metadata = parse_metadata(&meta.body)?;
    let media_type = media.media_type().unwrap_or_default();
    let mut body = media.body.clone();
    if g.damage_uploads > 0 {
        g.damage_uploads -= 1;
        if let Some(last) = body.last_mut() {
            *last ^= 1;
        }
    }
    insert_file(g, req, metadata, Some((body, media_type)))
}

fn create_metadata(g: &mut Inner, req: &Req<'_>) -> Outcome {
    let metadata = parse_metadata(req.body)?;
    insert_file(g, req, metadata, None)
}

fn find<'a>(g: &'a Inner, req: &Req<'_>, id: &str) -> Result<&'a FakeFile, Reply> {
    match g.files.iter().find(|f| f.id == id) {
        // Files a token may not see (another account's, another space's) look absent, as in Drive.
        Some(f) if f.account == req.account && may_see(req.scopes, f) => Ok(f),
        _ => Err(not_found(id)),
    }
}

fn get(g: &mut Inner, req: &Req<'_>, id: &str) -> Outcome {
    let id = resolve_alias(id);
    if id == ROOT_ID || id == APPDATA_ID {
        let space = if id == ROOT_ID { Space::Drive } else { Space::AppDataFolder };
        if !may_access(req.scopes, space) {
            return Err(insufficient_scope());
        }
        let name = if id == ROOT_ID { "My Drive" } else { "Application Data" };
        return Ok(json!({"kind": "drive#file", "id": id, "name": name, "mimeType": FOLDER_MIME}));
    }
    let f = find(g, req, id)?;
    match req.param("alt") {
        None | Some("json") => {
            let v = file_json(f);
            Ok(if req.param("fields").is_some() { v } else { default_file(&v) })
        }
        Some("media") => {
            if f.is_folder() {
                return Err(gerror(
                    403,
                    "fileNotDownloadable",
                    "global",
                    "Only files with binary content can be downloaded. Use Export with Docs Editors files.",
                    Some(("alt", "parameter")),
                ));
            }
            // Not JSON: carried out of band.
            Err(Reply { status: StatusCode::OK, content_type: f.mime_type.clone(), body: f.content.clone() })
        }
        Some(_) => Err(invalid("alt")),
    }
}

fn delete(g: &mut Inner, req: &Req<'_>, id: &str) -> Outcome {
    let id = resolve_alias(id).to_owned();
    find(g, req, &id)?;
    // Deleting a folder deletes what is in it.
    let mut doomed = vec![id];
    let mut i = 0;
    while i < doomed.len() {
        let children: Vec<String> =
            g.files.iter().filter(|f| f.parents.contains(&doomed[i])).map(|f| f.id.clone()).collect();
        doomed.extend(children);
        i += 1;
    }
    g.files.retain(|f| !doomed.contains(&f.id));
    Err(Reply { status: StatusCode::NO_CONTENT, content_type: String::new(), body: Vec::new() })
}

fn list(g: &mut Inner, req: &Req<'_>) -> Outcome {
    let mut spaces = Vec::new();
    for s in req.param("spaces").unwrap_or("drive").split(',') {
        match s.trim() {
            "drive" => spaces.push(Space::Drive),
            "appDataFolder" => spaces.push(Space::AppDataFolder),
            _ => return Err(invalid("spaces")),
        }
    }
    if spaces.iter().any(|s| !may_access(req.scopes, *s)) {
        return Err(insufficient_scope());
    }
    let page_size = match req.param("pageSize") {
        None => 100,
        Some(v) => match v.parse::<usize>() {
            Ok(n) if (1..=1000).contains(&n) => n,
            _ => return Err(invalid("pageSize")),
        },
    };
    let offset = match req.param("pageToken") {
        None => 0,
        Some(t) => match t.strip_prefix("fake-page-").and_then(|n| n.parse::<usize>().ok()) {
            Some(n) => n,
            None => return Err(invalid("pageToken")),
        },
    };
    let q = match crate::query::parse(req.param("q").unwrap_or("")) {
        Ok(q) => q,
        Err(_) => return Err(invalid("q")),
    };
    let order = req.param("orderBy").unwrap_or("");
    let mut keys: Vec<(&str, bool)> = Vec::new();
    for k in order.split(',').map(str::trim).filter(|k| !k.is_empty()) {
        let (field, desc) = match k.split_once(' ') {
            Some((f, "desc")) => (f, true),
            None => (k, false),
            Some(_) => return Err(invalid("orderBy")),
        };
        if !["createdTime", "modifiedTime", "name", "folder"].contains(&field) {
            return Err(invalid("orderBy"));
        }
        keys.push((field, desc));
    }
    let mut matches: Vec<&FakeFile> = g
        .files
        .iter()
        .filter(|f| f.account == req.account && spaces.contains(&f.space) && may_see(req.scopes, f))
        .filter(|f| {
            q.terms.iter().all(|t| match t {
                Term::NameEq { value, negate } => (f.name == *value) != *negate,
                Term::NameContains(v) => f.name.contains(v.as_str()),
                Term::MimeTypeEq { value, negate } => (f.mime_type == *value) != *negate,
                Term::Trashed(b) => f.trashed == *b,
                Term::InParents(p) => f.parents.iter().any(|x| x == resolve_alias(p)),
            })
        })
        .collect();
    // Without orderBy, Drive promises no order: the fake lists the newest first,
    // so that a client relying on creation order without asking for it shows up.
    if keys.is_empty() {
        matches.sort_by_key(|f| std::cmp::Reverse(f.seq));
    }
    // Stable sort from the last key to the first gives the lexicographic order.
    for (field, desc) in keys.iter().rev() {
        matches.sort_by(|a, b| {
            let o = match *field {
                "name" => a.name.cmp(&b.name),
                "folder" => b.is_folder().cmp(&a.is_folder()),
                _ => a.seq.cmp(&b.seq),
            };
            if *desc { o.reverse() } else { o }
        });
    }
    let page: Vec<Value> = matches.iter().skip(offset).take(page_size).map(|f| file_json(f)).collect();
    let more = matches.len() > offset + page.len();
    let mut v = json!({"kind": "drive#fileList", "incompleteSearch": false});
    if req.param("fields").is_none() {
        v["files"] = Value::Array(page.iter().map(default_file).collect());
    } else {
        v["files"] = Value::Array(page);
    }
    if more {
        v["nextPageToken"] = json!(format!("fake-page-{}", offset + page_size));
    }
    Ok(v)
}

fn about(g: &mut Inner, req: &Req<'_>) -> Outcome {
    if req.param("fields").is_none() {
        return Err(gerror(
            400,
            "required",
            "global",
            "The 'fields' parameter is required for this method.",
            Some(("fields", "parameter")),
        ));
    }
    let used: u64 = g.files.iter().filter(|f| f.account == req.account).map(|f| f.content.len() as u64).sum();
    let mut quota = json!({"usage": used.to_string(), "usageInDrive": used.to_string(), "usageInDriveTrash": "0"});
    if let Some(limit) = g.quota_limit {
        quota["limit"] = json!(limit.to_string());
    }
    Ok(json!({
        "kind": "drive#about",
        "user": {"kind": "drive#user", "displayName": "Fake User", "me": true},
        "storageQuota": quota,
    }))
}
