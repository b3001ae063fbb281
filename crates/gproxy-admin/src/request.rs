//! The admin API's request and reply types, independent of the HTTP
//! server: the router reads the body and hands an [`AdminRequest`] over.

use std::net::IpAddr;

use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderValue, SET_COOKIE};
use http::{HeaderMap, Method, Response, StatusCode};
use serde::Serialize;

use crate::error::ApiError;

/// One admin API call.
#[derive(Debug, Clone)]
pub struct AdminRequest {
    /// HTTP method.
    pub method: Method,
    /// The path after `/admin/api` (starting with `/`).
    pub path: String,
    /// The raw query string.
    pub query: Option<String>,
    /// Request headers.
    pub headers: HeaderMap,
    /// The whole body (size-limited by the router).
    pub body: Bytes,
    /// The client's address, when known.
    pub client_ip: Option<IpAddr>,
}

impl AdminRequest {
    /// The value of cookie `name`.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.headers
            .get_all(http::header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.trim().to_owned())
    }

    /// Whether the client reached us over HTTPS (directly or, as a reverse
    /// proxy says, through `X-Forwarded-Proto`), so cookies get `Secure`.
    pub fn is_https(&self) -> bool {
        self.headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("https"))
    }
}

/// A successful answer.
#[derive(Debug)]
pub struct Reply {
    /// HTTP status.
    pub status: StatusCode,
    /// The JSON body (or other bytes with `content_type`).
    pub body: Bytes,
    /// Content type.
    pub content_type: &'static str,
    /// `Set-Cookie` values.
    pub cookies: Vec<String>,
    /// `Allow` (with a 405).
    pub allow: Option<String>,
    /// An event stream that is the body instead of `body` (the live
    /// feed); the router takes it from the response's extensions.
    pub events: Option<gproxy_core::observe::live::EventStream>,
}

impl Reply {
    /// `status` with `value` as JSON.
    pub fn json<T: Serialize>(status: StatusCode, value: &T) -> Result<Reply, ApiError> {
        let body = serde_json::to_vec(value).map_err(ApiError::internal)?;
        Ok(Reply {
            status,
            body: Bytes::from(body),
            content_type: "application/json",
            cookies: Vec::new(),
            allow: None,
            events: None,
        })
    }

    /// 200 with `value` as JSON.
    pub fn ok<T: Serialize>(value: &T) -> Result<Reply, ApiError> {
        Self::json(StatusCode::OK, value)
    }

    /// 201 with `value` as JSON.
    pub fn created<T: Serialize>(value: &T) -> Result<Reply, ApiError> {
        Self::json(StatusCode::CREATED, value)
    }

    /// 204.
    pub fn no_content() -> Reply {
        Reply {
            status: StatusCode::NO_CONTENT,
            body: Bytes::new(),
            content_type: "application/json",
            cookies: Vec::new(),
            allow: None,
            events: None,
        }
    }

    /// `text` with a content type.
    pub fn text(content_type: &'static str, text: String) -> Reply {
        Reply {
            status: StatusCode::OK,
            body: Bytes::from(text),
            content_type,
            cookies: Vec::new(),
            allow: None,
            events: None,
        }
    }

    /// `text/event-stream` whose frames come from `events`.
    pub fn events(events: gproxy_core::observe::live::EventStream) -> Reply {
        Reply {
            status: StatusCode::OK,
            body: Bytes::new(),
            content_type: "text/event-stream",
            cookies: Vec::new(),
            allow: None,
            events: Some(events),
        }
    }

    /// Adds a `Set-Cookie`.
    pub fn with_cookie(mut self, cookie: String) -> Reply {
        self.cookies.push(cookie);
        self
    }
}

/// Renders a reply or an error as an HTTP response. Admin answers are
/// never cached.
pub fn render(result: Result<Reply, ApiError>) -> Response<Bytes> {
    let reply = match result {
        Ok(reply) => reply,
        Err(e) => {
            let body = serde_json::to_vec(&e.body()).unwrap_or_default();
            Reply {
                status: e.status,
                body: Bytes::from(body),
                content_type: "application/json",
                cookies: Vec::new(),
                allow: e.allow.clone(),
                events: None,
            }
        }
    };
    let mut response = Response::new(reply.body);
    *response.status_mut() = reply.status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(reply.content_type));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Some(allow) = reply.allow.and_then(|a| HeaderValue::from_str(&a).ok()) {
        headers.insert(http::header::ALLOW, allow);
    }
    for cookie in reply.cookies {
        if let Ok(v) = HeaderValue::from_str(&cookie) {
            headers.append(SET_COOKIE, v);
        }
    }
    if let Some(events) = reply.events {
        // Proxies in front must not hold the frames back.
        headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
        response.extensions_mut().insert(events);
    }
    response
}
