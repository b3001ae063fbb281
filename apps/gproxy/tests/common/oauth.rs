//! OAuth login helpers shared by the subscription kinds' tests.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};

use super::{ADMIN_KEY, Gateway};

/// `GET url` (an absolute URL, e.g. the mock's authorize page): the status
/// and the `Location` header.
pub async fn visit(url: &str) -> (u16, Option<String>) {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let req = http::Request::get(url).body(Full::new(Bytes::new())).unwrap();
    let response = client.request(req).await.unwrap();
    let status = response.status().as_u16();
    let location = response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let _ = response.into_body().collect().await;
    (status, location)
}

/// A whole authorization-code login of `provider` through the admin API:
/// start, "open" the authorize URL (the mock approves at once), paste the
/// redirect back. Returns the completion's answer.
pub async fn login(gw: &Gateway, provider: &str) -> Value {
    let start = gw
        .api(
            "POST",
            &format!("/providers/{provider}/oauth/start"),
            Some(ADMIN_KEY),
            Some(json!({})),
        )
        .await;
    assert_eq!(start.status, 200, "{}", start.text());
    let start = start.json();
    let (status, location) = visit(start["url"].as_str().unwrap()).await;
    assert_eq!(status, 302, "authorize page refused: {start}");
    let done = gw
        .api(
            "POST",
            &format!("/providers/{provider}/oauth/complete"),
            Some(ADMIN_KEY),
            Some(json!({ "callback": location.unwrap() })),
        )
        .await;
    assert!(done.status == 201 || done.status == 200, "{}", done.text());
    done.json()
}

/// Imports `content` (a CLI credentials file) into `provider`; the answer.
pub async fn import(gw: &Gateway, provider: &str, content: &str, name: Option<&str>) -> Value {
    let mut body = json!({ "content": content });
    if let Some(name) = name {
        body["name"] = json!(name);
    }
    let reply = gw
        .api(
            "POST",
            &format!("/providers/{provider}/oauth/import"),
            Some(ADMIN_KEY),
            Some(body),
        )
        .await;
    assert!(reply.status == 201 || reply.status == 200, "{}", reply.text());
    reply.json()
}

/// The admin view of credential `id`.
pub async fn credential(gw: &Gateway, id: i64) -> Value {
    let reply = gw
        .api("GET", &format!("/credentials/{id}"), Some(ADMIN_KEY), None)
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    reply.json()
}
