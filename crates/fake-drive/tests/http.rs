//! The fake Drive over plain HTTP: what it accepts, what it refuses, and
//! that it answers the way Google documents.

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};
use share_backup_fake_drive::{APPDATA_ID, DEFAULT_TOKEN, FakeDrive, Fault, ROOT_ID, Scope};

struct Resp {
    status: u16,
    content_type: String,
    body: Vec<u8>,
}

impl Resp {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", String::from_utf8_lossy(&self.body)))
    }
    /// Asserts Google's error body shape and returns the first reason.
    fn google_error(&self, code: u16) -> String {
        assert_eq!(self.status, code, "{}", String::from_utf8_lossy(&self.body));
        let v = self.json();
        assert_eq!(v["error"]["code"], json!(code));
        assert!(v["error"]["message"].is_string());
        let item = &v["error"]["errors"][0];
        assert!(item["domain"].is_string() && item["message"].is_string());
        item["reason"].as_str().unwrap().to_owned()
    }
}

async fn send(method: &str, url: &str, token: Option<&str>, content_type: Option<&str>, body: Vec<u8>) -> Resp {
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let mut b = hyper::Request::builder().method(method).uri(url);
    if let Some(t) = token {
        b = b.header("authorization", format!("Bearer {t}"));
    }
    if let Some(ct) = content_type {
        b = b.header("content-type", ct);
    }
    let resp = client.request(b.body(Full::new(Bytes::from(body))).unwrap()).await.unwrap();
    let status = resp.status().as_u16();
    let content_type = resp.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    let body = resp.into_body().collect().await.unwrap().to_bytes().to_vec();
    Resp { status, content_type, body }
}

async fn get(url: &str) -> Resp {
    send("GET", url, Some(DEFAULT_TOKEN), None, vec![]).await
}

const B: &str = "xXx_boundary_xXx";

fn multipart(meta: &Value, media: &[u8]) -> Vec<u8> {
    let mut v = format!("--{B}\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n{meta}\r\n--{B}\r\nContent-Type: text/plain\r\n\r\n")
        .into_bytes();
    v.extend_from_slice(media);
    v.extend_from_slice(format!("\r\n--{B}--\r\n").as_bytes());
    v
}

async fn upload(fake: &FakeDrive, meta: Value, media: &[u8]) -> Resp {
    upload_as(fake, DEFAULT_TOKEN, meta, media).await
}

async fn upload_as(fake: &FakeDrive, token: &str, meta: Value, media: &[u8]) -> Resp {
    send(
        "POST",
        &format!("{}upload/drive/v3/files?uploadType=multipart", fake.root_url()),
        Some(token),
        Some(&format!("multipart/related; boundary={B}")),
        multipart(&meta, media),
    )
    .await
}

#[tokio::test]
async fn a_multipart_upload_creates_a_file_whose_media_and_metadata_read_back() {
    let fake = FakeDrive::start().await.unwrap();
    let r = upload(&fake, json!({"name": "k.bin", "parents": ["appDataFolder"]}), b"hello\r\nworld").await;
    assert_eq!(r.status, 200);
    let v = r.json();
    assert_eq!(v["kind"], "drive#file");
    assert_eq!(v["name"], "k.bin");
    assert_eq!(v["mimeType"], "text/plain", "the media part's type when the metadata has none");
    assert!(v.get("parents").is_none(), "default fields are kind, id, name, mimeType");
    let id = v["id"].as_str().unwrap().to_owned();
    let media = get(&format!("{}files/{id}?alt=media", fake.base_url())).await;
    assert_eq!((media.status, media.body.as_slice()), (200, &b"hello\r\nworld"[..]));
    assert_eq!(media.content_type, "text/plain");
    let meta = get(&format!("{}files/{id}?fields=id,parents,spaces,size", fake.base_url())).await.json();
    assert_eq!(meta, json!({"id": id, "parents": [APPDATA_ID], "spaces": ["appDataFolder"], "size": "12"}));
}

#[tokio::test]
async fn malformed_uploads_get_google_style_400s() {
    let fake = FakeDrive::start().await.unwrap();
    let url = format!("{}upload/drive/v3/files?uploadType=multipart", fake.root_url());
    let ct = format!("multipart/related; boundary={B}");
    let cases: Vec<(Option<String>, Vec<u8>)> = vec![
        (Some(ct.clone()), b"garbage".to_vec()),
        (Some(ct.clone()), format!("--{B}\r\nContent-Type: application/json\r\n\r\n{{}}\r\n--{B}--").into_bytes()),
        (Some(ct.clone()), multipart(&json!("not an object"), b"x")),
        (Some(ct.clone()), multipart(&json!({"name": 5}), b"x")),
        (Some("multipart/form-data; boundary=x".into()), multipart(&json!({}), b"x")),
        (Some("multipart/related".into()), multipart(&json!({}), b"x")),
        (None, multipart(&json!({}), b"x")),
        (
            Some(ct.clone()),
            format!(
                "--{B}\r\nContent-Type: text/plain\r\n\r\nx\r\n--{B}\r\nContent-Type: text/plain\r\n\r\ny\r\n--{B}--"
            )
            .into_bytes(),
        ),
    ];
    for (ct, body) in cases {
        let r = send("POST", &url, Some(DEFAULT_TOKEN), ct.as_deref(), body).await;
        let reason = r.google_error(400);
        assert!(["badRequest", "parseError"].contains(&reason.as_str()), "{reason}");
    }
    let r = send("POST", &format!("{}upload/drive/v3/files", fake.root_url()), Some(DEFAULT_TOKEN), Some(&ct), vec![])
        .await;
    assert_eq!(r.google_error(400), "invalid");
    assert!(fake.files().is_empty());
    // Every truncation of a good body is refused or accepted, never a crash.
    let good = multipart(&json!({"name": "t"}), b"abc");
    for i in (0..good.len()).step_by(7) {
        let r = send("POST", &url, Some(DEFAULT_TOKEN), Some(&ct), good[..i].to_vec()).await;
        assert!(r.status == 400 || r.status == 200, "{}", r.status);
    }
}

#[tokio::test]
async fn list_filters_by_space_and_query_and_pages() {
    let fake = FakeDrive::start().await.unwrap();
    for i in 0..5 {
        assert_eq!(
            upload(&fake, json!({"name": format!("f{i}"), "parents": ["appDataFolder"]}), b"x").await.status,
            200
        );
    }
    assert_eq!(upload(&fake, json!({"name": "f0"}), b"x").await.status, 200);
    let base = fake.base_url();
    let v = get(&format!("{base}files?spaces=appDataFolder&q=name%20%3D%20%27f0%27&fields=files(id,name,parents)"))
        .await
        .json();
    let files = v["files"].as_array().unwrap();
    assert_eq!(files.len(), 1);
    assert_eq!(files[0]["parents"], json!([APPDATA_ID]));
    let v = get(&format!("{base}files?q=name%20%3D%20%27f0%27%20and%20%27root%27%20in%20parents")).await.json();
    assert_eq!(v["files"].as_array().unwrap().len(), 1);
    assert_eq!(v["files"][0].as_object().unwrap().len(), 4, "default file fields: {v}");
    // Paging through the app data folder two at a time.
    let mut names = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut url =
            format!("{base}files?spaces=appDataFolder&orderBy=createdTime&pageSize=2&fields=nextPageToken,files(name)");
        if let Some(t) = &token {
            url.push_str(&format!("&pageToken={t}"));
        }
        let v = get(&url).await.json();
        names.extend(v["files"].as_array().unwrap().iter().map(|f| f["name"].as_str().unwrap().to_owned()));
        match v.get("nextPageToken") {
            Some(t) => token = Some(t.as_str().unwrap().to_owned()),
            None => break,
        }
    }
    assert_eq!(names, ["f0", "f1", "f2", "f3", "f4"]);
}

#[tokio::test]
async fn bad_list_parameters_are_invalid_values() {
    let fake = FakeDrive::start().await.unwrap();
    let base = fake.base_url();
    for (q, location) in [
        ("q=name%20%3D%3D%20%27x%27", "q"),
        ("q=name%20%3D%20%27x%27%20or%20trashed%20%3D%20true", "q"),
        ("q=%27unterminated", "q"),
        ("spaces=photos", "spaces"),
        ("pageSize=0", "pageSize"),
        ("pageSize=1001", "pageSize"),
        ("pageToken=forged", "pageToken"),
        ("orderBy=size", "orderBy"),
        ("orderBy=name%20sideways", "orderBy"),
    ] {
        let r = get(&format!("{base}files?{q}")).await;
        assert_eq!(r.google_error(400), "invalid", "{q}");
        assert_eq!(r.json()["error"]["errors"][0]["location"], location);
    }
    let r = get(&format!("{base}files?fields=files(")).await;
    assert_eq!(r.google_error(400), "invalidParameter");
}

#[tokio::test]
async fn tokens_and_scopes_are_checked_like_google() {
    let fake = FakeDrive::start().await.unwrap();
    let url = format!("{}files?spaces=appDataFolder", fake.base_url());
    assert_eq!(send("GET", &url, None, None, vec![]).await.google_error(401), "required");
    assert_eq!(send("GET", &url, Some("wrong"), None, vec![]).await.google_error(401), "authError");
    fake.add_token("file-only", &[Scope::File]);
    fake.add_token("appdata-only", &[Scope::AppData]);
    assert_eq!(send("GET", &url, Some("file-only"), None, vec![]).await.google_error(403), "insufficientPermissions");
    assert_eq!(send("GET", &url, Some("appdata-only"), None, vec![]).await.status, 200);
    let drive = format!("{}files?spaces=drive", fake.base_url());
    assert_eq!(
        send("GET", &drive, Some("appdata-only"), None, vec![]).await.google_error(403),
        "insufficientPermissions"
    );
    fake.revoke_token(DEFAULT_TOKEN);
    assert_eq!(get(&url).await.google_error(401), "authError");
    let log = fake.requests();
    assert_eq!(log.len(), 6);
    assert_eq!(log[0].bearer, None);
    assert_eq!(log[1].bearer.as_deref(), Some("wrong"));
}

#[tokio::test]
async fn injected_faults_answer_once_each_in_order_with_google_bodies() {
    let fake = FakeDrive::start().await.unwrap();
    let url = format!("{}files", fake.base_url());
    fake.inject(Fault::TooManyRequests);
    fake.inject(Fault::RateLimitExceeded);
    fake.inject(Fault::UserRateLimitExceeded);
    fake.inject(Fault::InternalError);
    fake.inject(Fault::ServiceUnavailable);
    fake.inject(Fault::Unauthorized);
    fake.inject(Fault::InsufficientPermissions);
    fake.inject(Fault::StorageQuotaExceeded);
    let expected = [
        (429, "rateLimitExceeded"),
        (403, "rateLimitExceeded"),
        (403, "userRateLimitExceeded"),
        (500, "backendError"),
        (503, "backendError"),
        (401, "authError"),
        (403, "insufficientPermissions"),
        (403, "storageQuotaExceeded"),
    ];
    for (code, reason) in expected {
        assert_eq!(get(&url).await.google_error(code), reason);
    }
    fake.inject(Fault::BadGateway);
    fake.inject(Fault::GatewayTimeout);
    for code in [502, 504] {
        let r = get(&url).await;
        assert_eq!(r.status, code);
        assert!(r.content_type.starts_with("text/html"), "{}", r.content_type);
    }
    assert_eq!(fake.pending_faults(), 0);
    assert_eq!(get(&url).await.status, 200);
    let statuses: Vec<u16> = fake.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [429, 403, 403, 500, 503, 401, 403, 403, 502, 504, 200]);
}

#[tokio::test]
async fn a_fault_after_effect_keeps_the_effect() {
    let fake = FakeDrive::start().await.unwrap();
    fake.inject_after_effect(Fault::ServiceUnavailable);
    let r = upload(&fake, json!({"name": "lost-answer"}), b"x").await;
    assert_eq!(r.google_error(503), "backendError");
    assert_eq!(fake.files().len(), 1);
}

#[tokio::test]
async fn folders_are_created_by_metadata_and_deleting_them_deletes_their_content() {
    let fake = FakeDrive::start().await.unwrap();
    let base = fake.base_url();
    let r = send(
        "POST",
        &format!("{base}files?fields=id,parents"),
        Some(DEFAULT_TOKEN),
        Some("application/json"),
        json!({"name": "F", "mimeType": "application/vnd.google-apps.folder"}).to_string().into_bytes(),
    )
    .await;
    let v = r.json();
    assert_eq!(v["parents"], json!([ROOT_ID]));
    let folder = v["id"].as_str().unwrap().to_owned();
    assert_eq!(upload(&fake, json!({"name": "in", "parents": [folder]}), b"x").await.status, 200);
    assert_eq!(
        upload(&fake, json!({"name": "x", "parents": ["no-such-folder"]}), b"x").await.google_error(404),
        "notFound"
    );
    let r = get(&format!("{base}files/{folder}?alt=media")).await;
    assert_eq!(r.google_error(403), "fileNotDownloadable");
    let r = send("DELETE", &format!("{base}files/{folder}"), Some(DEFAULT_TOKEN), None, vec![]).await;
    assert_eq!((r.status, r.body.len()), (204, 0));
    assert!(fake.files().is_empty());
    let r = send("DELETE", &format!("{base}files/{folder}"), Some(DEFAULT_TOKEN), None, vec![]).await;
    assert_eq!(r.google_error(404), "notFound");
}

#[tokio::test]
async fn files_a_token_may_not_see_look_absent() {
    let fake = FakeDrive::start().await.unwrap();
    let id = upload(&fake, json!({"name": "secret", "parents": ["appDataFolder"]}), b"x").await.json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    fake.add_token("file-only", &[Scope::File]);
    let r = send("GET", &format!("{}files/{id}?alt=media", fake.base_url()), Some("file-only"), None, vec![]).await;
    assert_eq!(r.google_error(404), "notFound");
}

#[tokio::test]
async fn about_needs_fields_and_reports_the_quota() {
    let fake = FakeDrive::start().await.unwrap();
    fake.set_quota_limit(Some(1000));
    upload(&fake, json!({"name": "a"}), &[0; 10]).await;
    let base = fake.base_url();
    assert_eq!(get(&format!("{base}about")).await.google_error(400), "required");
    let v = get(&format!("{base}about?fields=storageQuota")).await.json();
    assert_eq!(
        v,
        json!({"storageQuota": {"limit": "1000", "usage": "10", "usageInDrive": "10", "usageInDriveTrash": "0"}})
    );
    assert_eq!(upload(&fake, json!({"name": "big"}), &[0; 991]).await.google_error(403), "storageQuotaExceeded");
}

#[tokio::test]
async fn unknown_routes_are_google_404s() {
    let fake = FakeDrive::start().await.unwrap();
    assert_eq!(get(&format!("{}drive/v2/files", fake.root_url())).await.google_error(404), "notFound");
    assert_eq!(get(&format!("{}files/a/b", fake.base_url())).await.google_error(404), "notFound");
}

#[tokio::test]
async fn list_orders_by_creation_time_and_name() {
    let fake = FakeDrive::start().await.unwrap();
    for name in ["b", "c", "a"] {
        upload(&fake, json!({"name": name}), b"x").await;
    }
    let base = fake.base_url();
    let names = |v: Value| -> Vec<String> {
        v["files"].as_array().unwrap().iter().map(|f| f["name"].as_str().unwrap().to_owned()).collect()
    };
    assert_eq!(names(get(&format!("{base}files?orderBy=createdTime")).await.json()), ["b", "c", "a"]);
    assert_eq!(names(get(&format!("{base}files?orderBy=createdTime%20desc")).await.json()), ["a", "c", "b"]);
    assert_eq!(names(get(&format!("{base}files?orderBy=name")).await.json()), ["a", "b", "c"]);
    assert_eq!(names(get(&format!("{base}files")).await.json()), ["a", "c", "b"], "newest first by default");
}

#[tokio::test]
async fn any_status_can_be_injected_with_googles_error_body() {
    let fake = FakeDrive::start().await.unwrap();
    let url = format!("{}files", fake.base_url());
    let cases = [
        (400, "badRequest"),
        (403, "forbidden"),
        (403, "domainPolicy"),
        (404, "notFound"),
        (408, "requestTimeout"),
        (409, "conflict"),
        (412, "conditionNotMet"),
        (429, "userRateLimitExceeded"),
    ];
    for (code, reason) in cases {
        fake.inject(Fault::status(code, reason));
    }
    for (code, reason) in cases {
        assert_eq!(get(&url).await.google_error(code), reason);
    }
    fake.inject(Fault::status(429, "rateLimitExceeded"));
    let v = get(&url).await.json();
    assert_eq!(v["error"]["errors"][0]["domain"], "usageLimits");
    // An impossible status is a 500, not a panic.
    fake.inject(Fault::status(1000, "odd"));
    assert_eq!(get(&url).await.google_error(500), "odd");
    assert_eq!(get(&url).await.status, 200, "each fault answers once");
}

#[tokio::test]
async fn a_drive_file_token_sees_only_what_the_app_created() {
    let fake = FakeDrive::start().await.unwrap();
    fake.add_token("file-only", &[Scope::File]);
    let user_made = fake.add_folder("Wallet backup");
    let app_made = fake.add_app_folder("Wallet backup");
    let q = "name = 'Wallet backup' and trashed = false";
    let url = format!("{}files?spaces=drive&q={}&fields=files(id)", fake.base_url(), q.replace(' ', "%20"));
    let ids = |r: Resp| -> Vec<String> {
        r.json()["files"].as_array().unwrap().iter().map(|f| f["id"].as_str().unwrap().to_owned()).collect()
    };
    let narrow = send("GET", &url, Some("file-only"), None, vec![]).await;
    assert_eq!(ids(narrow), vec![app_made.clone()]);
    let mut wide = ids(get(&url).await);
    wide.sort();
    let mut both = vec![user_made.clone(), app_made.clone()];
    both.sort();
    assert_eq!(wide, both, "the drive scope sees every file");
    let r = send("GET", &format!("{}files/{user_made}", fake.base_url()), Some("file-only"), None, vec![]).await;
    assert_eq!(r.google_error(404), "notFound");
    // Nor can it put a file in the user's folder.
    let r = upload_as(&fake, "file-only", json!({"name": "k", "parents": [user_made]}), b"x").await;
    assert_eq!(r.google_error(404), "notFound");
    // What the app uploads with the narrow token, it sees again.
    let r = upload_as(&fake, "file-only", json!({"name": "k", "parents": [app_made]}), b"x").await;
    let id = r.json()["id"].as_str().unwrap().to_owned();
    let r = send("GET", &format!("{}files/{id}?alt=media", fake.base_url()), Some("file-only"), None, vec![]).await;
    assert_eq!((r.status, r.body.as_slice()), (200, b"x".as_slice()));
}

#[tokio::test]
async fn the_token_endpoint_exchanges_a_known_refresh_token_for_a_working_access_token() {
    let fake = FakeDrive::start().await.unwrap();
    fake.add_refresh_token("refresh-1", &[Scope::AppData]);
    let form = |refresh: &str| {
        format!(
            "grant_type=refresh_token&client_id=c.apps.googleusercontent.com&client_secret=s&refresh_token={refresh}"
        )
        .into_bytes()
    };
    let ct = Some("application/x-www-form-urlencoded");
    let r = send("POST", &fake.token_uri(), None, ct, form("refresh-1")).await;
    assert_eq!(r.status, 200);
    let v = r.json();
    assert_eq!((v["token_type"].as_str(), v["expires_in"].as_u64()), (Some("Bearer"), Some(3599)));
    let token = v["access_token"].as_str().unwrap().to_owned();
    let url = format!("{}files?spaces=appDataFolder", fake.base_url());
    assert_eq!(send("GET", &url, Some(&token), None, vec![]).await.status, 200);
    let drive = format!("{}files?spaces=drive", fake.base_url());
    assert_eq!(send("GET", &drive, Some(&token), None, vec![]).await.google_error(403), "insufficientPermissions");
    let r = send("POST", &fake.token_uri(), None, ct, form("unknown")).await;
    assert_eq!((r.status, r.json()["error"].as_str()), (400, Some("invalid_grant")));
    let r = send("POST", &fake.token_uri(), None, Some("application/json"), form("refresh-1")).await;
    assert_eq!((r.status, r.json()["error"].as_str()), (400, Some("invalid_request")));
    // Injected faults are for Drive requests; the token endpoint ignores them.
    fake.inject(Fault::ServiceUnavailable);
    let second = send("POST", &fake.token_uri(), None, ct, form("refresh-1")).await.json();
    assert_ne!(second["access_token"].as_str().unwrap(), token, "a new token per refresh");
    assert_eq!(fake.pending_faults(), 1);
    assert_eq!(fake.requests().iter().filter(|r| r.path == "/token").count(), 4);
}
