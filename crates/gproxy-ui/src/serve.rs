//! How the UI is served: content types, the encoding negotiated from
//! `Accept-Encoding` (brotli, then gzip, then identity), immutable caching
//! for hashed assets and revalidation for the rest, ETags and
//! `If-None-Match`, `index.html` for deep links, and a strict
//! Content-Security-Policy on every answer.

use bytes::Bytes;
use http::header::{
    ACCEPT_ENCODING, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_LENGTH,
    CONTENT_SECURITY_POLICY as CSP, CONTENT_TYPE, ETAG, HeaderName, HeaderValue, IF_NONE_MATCH,
    REFERRER_POLICY, VARY, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use http::{HeaderMap, Method, Response, StatusCode};

use crate::{Asset, Ui};

/// The policy every UI answer carries: scripts, styles and connections
/// from this origin only (no inline script), no framing, no plugins.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
    style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; \
    object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Hashed build output (`/assets/index-3f9a.js`): its name changes with
/// its content, so browsers may keep it for a year without asking.
const ASSETS_PREFIX: &str = "/assets/";
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// Everything else (`index.html`, unhashed public files) is revalidated
/// with its ETag on every use, so a new build is picked up at once.
const REVALIDATE: &str = "no-cache";

/// A negotiated representation of an asset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Coding {
    Brotli,
    Gzip,
    Identity,
}

impl Ui {
    /// Answers a request for `path`, or `None` when `method` is not GET or
    /// HEAD (the caller answers those). `/` and paths without a file name
    /// (client-side routes such as `/providers/openai`) get `index.html`;
    /// a missing file (`/assets/...`, `/favicon.ico`) is a 404, not HTML.
    pub fn serve(
        &self,
        method: &Method,
        path: &str,
        headers: &HeaderMap,
    ) -> Option<Response<Bytes>> {
        let head = match *method {
            Method::GET => false,
            Method::HEAD => true,
            _ => return None,
        };
        if let Some(why) = &self.missing {
            return Some(if looks_like_file(path) {
                not_found(head)
            } else {
                missing_page(why, head)
            });
        }
        let key = if path == "/" { "/index.html" } else { path };
        let asset = match self.assets.get(key) {
            Some(asset) => *asset,
            None if looks_like_file(path) => return Some(not_found(head)),
            None => *self.assets.get("/index.html")?,
        };
        Some(respond(asset, head, headers))
    }
}

/// Whether `path` names a file rather than a client-side route: anything
/// under `/assets/`, or a top-level name with an extension. Deeper paths
/// with dots are routes (`/providers/my.provider`).
fn looks_like_file(path: &str) -> bool {
    path.starts_with(ASSETS_PREFIX)
        || path
            .rsplit_once('/')
            .is_some_and(|(dir, name)| dir.is_empty() && name.contains('.'))
}

fn respond(asset: &Asset, head: bool, headers: &HeaderMap) -> Response<Bytes> {
    let (coding, body) = negotiate(asset, headers);
    let etag = match coding {
        Coding::Brotli => format!("\"{}.br\"", asset.etag),
        Coding::Gzip => format!("\"{}.gz\"", asset.etag),
        Coding::Identity => format!("\"{}\"", asset.etag),
    };
    let cache = if asset.path.starts_with(ASSETS_PREFIX) {
        IMMUTABLE
    } else {
        REVALIDATE
    };
    let fresh = headers
        .get_all(IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|tag| tag.trim().trim_start_matches("W/"))
        .any(|tag| tag == "*" || tag == etag);
    let mut response = Response::new(Bytes::new());
    let h = response.headers_mut();
    set(h, CACHE_CONTROL, cache);
    set(h, ETAG, &etag);
    if asset.gzip.is_some() || asset.brotli.is_some() {
        set(h, VARY, "accept-encoding");
    }
    security_headers(h);
    if fresh {
        *response.status_mut() = StatusCode::NOT_MODIFIED;
        return response;
    }
    set(h, CONTENT_TYPE, asset.content_type);
    set(h, CONTENT_LENGTH, &body.len().to_string());
    match coding {
        Coding::Brotli => set(h, CONTENT_ENCODING, "br"),
        Coding::Gzip => set(h, CONTENT_ENCODING, "gzip"),
        Coding::Identity => {}
    }
    if !head {
        *response.body_mut() = Bytes::from_static(body);
    }
    response
}

/// Brotli when the client takes it and the asset has it, else gzip, else
/// the plain bytes.
fn negotiate(asset: &Asset, headers: &HeaderMap) -> (Coding, &'static [u8]) {
    if let Some(br) = asset.brotli.filter(|_| accepts(headers, "br")) {
        return (Coding::Brotli, br);
    }
    if let Some(gz) = asset.gzip.filter(|_| accepts(headers, "gzip")) {
        return (Coding::Gzip, gz);
    }
    (Coding::Identity, asset.identity)
}

/// Whether `Accept-Encoding` takes `coding` (q > 0, by name or by `*`
/// when the name is not listed).
fn accepts(headers: &HeaderMap, coding: &str) -> bool {
    let mut wildcard = false;
    for item in headers
        .get_all(ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
    {
        let mut parts = item.split(';');
        let name = parts.next().unwrap_or_default().trim();
        let q = parts
            .filter_map(|p| p.trim().strip_prefix("q="))
            .find_map(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        if name.eq_ignore_ascii_case(coding) {
            return q > 0.0;
        }
        if name == "*" {
            wildcard = q > 0.0;
        }
    }
    wildcard
}

fn security_headers(h: &mut HeaderMap) {
    set(h, CSP, CONTENT_SECURITY_POLICY);
    set(h, X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(h, X_FRAME_OPTIONS, "DENY");
    set(h, REFERRER_POLICY, "same-origin");
}

fn set(h: &mut HeaderMap, name: HeaderName, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        h.insert(name, v);
    }
}

fn not_found(head: bool) -> Response<Bytes> {
    let body = Bytes::from_static(b"not found\n");
    plain(
        StatusCode::NOT_FOUND,
        "text/plain; charset=utf-8",
        body,
        head,
    )
}

/// The page served instead of the UI when the build had none.
fn missing_page(why: &str, head: bool) -> Response<Bytes> {
    let page = MISSING_PAGE.replace("{why}", &escape(why));
    plain(
        StatusCode::OK,
        "text/html; charset=utf-8",
        Bytes::from(page),
        head,
    )
}

fn plain(status: StatusCode, content_type: &str, body: Bytes, head: bool) -> Response<Bytes> {
    let mut response = Response::new(Bytes::new());
    *response.status_mut() = status;
    let h = response.headers_mut();
    set(h, CONTENT_TYPE, content_type);
    set(h, CONTENT_LENGTH, &body.len().to_string());
    set(h, CACHE_CONTROL, REVALIDATE);
    security_headers(h);
    if !head {
        *response.body_mut() = body;
    }
    response
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

const MISSING_PAGE: &str = r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="gproxy-ui" content="missing">
<title>gproxy: the web UI is not in this build</title>
</head>
<body>
<main>
<h1>The gproxy web UI is not in this build</h1>
<p>Why: {why}</p>
<h2>How to get it</h2>
<ol>
<li>Install Node.js 20 or newer (with npm).</li>
<li>Make sure <code>GPROXY_UI_SKIP_BUILD</code> is not set.</li>
<li>Rebuild gproxy: <code>cargo build --release -p gproxy</code>. The UI in
<code>frontend/</code> is built and embedded as part of the build. If Node.js
was installed after the last build, run <code>touch frontend/package.json</code>
first so the build notices.</li>
</ol>
<p>See docs/ui.md. Everything else works without the UI: the admin API is at
<code>/admin/api/</code> (its document: <a href="/admin/api/openapi.json">/admin/api/openapi.json</a>),
health at <a href="/health">/health</a>.</p>
</main>
</body>
</html>
"#;

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};

    use super::*;

    fn leak(bytes: Vec<u8>) -> &'static [u8] {
        Box::leak(bytes.into_boxed_slice())
    }

    fn gzip(bytes: &[u8]) -> &'static [u8] {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        e.write_all(bytes).unwrap();
        leak(e.finish().unwrap())
    }

    fn brotli(bytes: &[u8]) -> &'static [u8] {
        let mut out = Vec::new();
        brotli::BrotliCompress(&mut &bytes[..], &mut out, &Default::default()).unwrap();
        leak(out)
    }

    const INDEX: &str = "<!doctype html><html><head><script type=\"module\" src=\"/assets/index-abc123.js\"></script></head><body><div id=\"root\"></div></body></html>";
    const SCRIPT: &str =
        "console.log('gproxy ui'); export const x = 1; // padding padding padding padding padding";

    fn asset(path: &'static str, body: &'static str, compress: bool) -> Asset {
        Asset {
            path,
            content_type: crate::content_type(path),
            etag: "0123456789abcdef",
            identity: body.as_bytes(),
            gzip: compress.then(|| gzip(body.as_bytes())),
            brotli: compress.then(|| brotli(body.as_bytes())),
        }
    }

    fn ui() -> Ui {
        let assets = vec![
            asset("/index.html", INDEX, true),
            asset("/assets/index-abc123.js", SCRIPT, true),
            asset("/assets/logo-99.png", "\u{89}PNG not really", false),
            asset(
                "/favicon.svg",
                "<svg xmlns=\"http://www.w3.org/2000/svg\"/>",
                false,
            ),
        ];
        Ui::from_assets(Box::leak(assets.into_boxed_slice()))
    }

    fn get(ui: &Ui, path: &str, headers: &[(&'static str, &'static str)]) -> Response<Bytes> {
        let mut h = HeaderMap::new();
        for (k, v) in headers {
            h.append(*k, HeaderValue::from_static(v));
        }
        ui.serve(&Method::GET, path, &h).unwrap()
    }

    fn header<'a>(r: &'a Response<Bytes>, name: &str) -> &'a str {
        r.headers().get(name).map_or("", |v| v.to_str().unwrap())
    }

    fn gunzip(bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(bytes)
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    fn unbrotli(bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        brotli::Decompressor::new(bytes, 4096)
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    #[test]
    fn content_types_by_extension() {
        for (path, want) in [
            ("/index.html", "text/html; charset=utf-8"),
            ("/assets/a-1.js", "text/javascript; charset=utf-8"),
            ("/assets/a-1.css", "text/css; charset=utf-8"),
            ("/assets/a-1.svg", "image/svg+xml"),
            ("/assets/a-1.woff2", "font/woff2"),
            ("/assets/a-1.PNG", "image/png"),
            ("/manifest.webmanifest", "application/manifest+json"),
            ("/x", "application/octet-stream"),
        ] {
            assert_eq!(crate::content_type(path), want, "{path}");
        }
        let ui = ui();
        let r = get(&ui, "/assets/index-abc123.js", &[]);
        assert_eq!(header(&r, "content-type"), "text/javascript; charset=utf-8");
        assert_eq!(r.body().as_ref(), SCRIPT.as_bytes());
        let r = get(&ui, "/", &[]);
        assert_eq!(header(&r, "content-type"), "text/html; charset=utf-8");
        assert_eq!(r.body().as_ref(), INDEX.as_bytes());
    }

    #[test]
    fn encoding_is_negotiated_brotli_then_gzip_then_identity() {
        let ui = ui();
        let r = get(
            &ui,
            "/assets/index-abc123.js",
            &[("accept-encoding", "gzip, deflate, br, zstd")],
        );
        assert_eq!(header(&r, "content-encoding"), "br");
        assert_eq!(header(&r, "vary"), "accept-encoding");
        assert_eq!(unbrotli(r.body()), SCRIPT.as_bytes());
        assert_eq!(header(&r, "content-length"), r.body().len().to_string());

        let r = get(
            &ui,
            "/assets/index-abc123.js",
            &[("accept-encoding", "gzip;q=0.5, br;q=0")],
        );
        assert_eq!(header(&r, "content-encoding"), "gzip");
        assert_eq!(gunzip(r.body()), SCRIPT.as_bytes());

        let r = get(
            &ui,
            "/assets/index-abc123.js",
            &[("accept-encoding", "identity")],
        );
        assert_eq!(header(&r, "content-encoding"), "");
        assert_eq!(header(&r, "vary"), "accept-encoding");
        assert_eq!(r.body().as_ref(), SCRIPT.as_bytes());

        let r = get(&ui, "/assets/index-abc123.js", &[("accept-encoding", "*")]);
        assert_eq!(header(&r, "content-encoding"), "br");
        let r = get(
            &ui,
            "/assets/index-abc123.js",
            &[("accept-encoding", "*, br;q=0")],
        );
        assert_eq!(header(&r, "content-encoding"), "gzip");

        // Not compressible: plain, and no Vary.
        let r = get(
            &ui,
            "/assets/logo-99.png",
            &[("accept-encoding", "br, gzip")],
        );
        assert_eq!(header(&r, "content-encoding"), "");
        assert_eq!(header(&r, "vary"), "");
        assert_eq!(header(&r, "content-type"), "image/png");
    }

    #[test]
    fn hashed_assets_are_immutable_and_the_rest_revalidates() {
        let ui = ui();
        let r = get(&ui, "/assets/index-abc123.js", &[]);
        assert_eq!(
            header(&r, "cache-control"),
            "public, max-age=31536000, immutable"
        );
        for path in ["/", "/index.html", "/favicon.svg", "/providers/openai"] {
            assert_eq!(
                header(&get(&ui, path, &[]), "cache-control"),
                "no-cache",
                "{path}"
            );
        }
    }

    #[test]
    fn deep_links_get_index_html_and_missing_files_a_404() {
        let ui = ui();
        for path in [
            "/providers/openai",
            "/logs",
            "/providers/my.provider",
            "/users/3/keys",
        ] {
            let r = get(&ui, path, &[]);
            assert_eq!(r.status(), StatusCode::OK, "{path}");
            assert_eq!(r.body().as_ref(), INDEX.as_bytes(), "{path}");
        }
        for path in [
            "/assets/gone-1.js",
            "/assets/",
            "/favicon.ico",
            "/robots.txt",
        ] {
            let r = get(&ui, path, &[]);
            assert_eq!(r.status(), StatusCode::NOT_FOUND, "{path}");
            assert_eq!(header(&r, "content-type"), "text/plain; charset=utf-8");
        }
        assert!(ui.serve(&Method::POST, "/", &HeaderMap::new()).is_none());
        assert!(
            ui.serve(&Method::DELETE, "/providers", &HeaderMap::new())
                .is_none()
        );
    }

    #[test]
    fn etags_differ_per_encoding_and_if_none_match_gives_304() {
        let ui = ui();
        let br = get(&ui, "/", &[("accept-encoding", "br")]);
        let gz = get(&ui, "/", &[("accept-encoding", "gzip")]);
        let plain = get(&ui, "/", &[]);
        let tags: Vec<&str> = [&br, &gz, &plain]
            .iter()
            .map(|r| header(r, "etag"))
            .collect();
        assert_eq!(
            tags,
            [
                "\"0123456789abcdef.br\"",
                "\"0123456789abcdef.gz\"",
                "\"0123456789abcdef\""
            ]
        );

        let r = get(
            &ui,
            "/",
            &[
                ("accept-encoding", "br"),
                ("if-none-match", "\"x\", W/\"0123456789abcdef.br\""),
            ],
        );
        assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
        assert!(r.body().is_empty());
        assert_eq!(header(&r, "etag"), "\"0123456789abcdef.br\"");
        assert_eq!(header(&r, "cache-control"), "no-cache");
        assert_eq!(header(&r, "vary"), "accept-encoding");
        // The gzip tag does not validate the brotli body.
        let r = get(
            &ui,
            "/",
            &[
                ("accept-encoding", "br"),
                ("if-none-match", "\"0123456789abcdef.gz\""),
            ],
        );
        assert_eq!(r.status(), StatusCode::OK);
        let r = get(&ui, "/assets/index-abc123.js", &[("if-none-match", "*")]);
        assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
    }

    #[test]
    fn every_answer_carries_a_strict_csp() {
        let ui = ui();
        for path in [
            "/",
            "/providers/openai",
            "/assets/index-abc123.js",
            "/assets/gone.js",
        ] {
            let r = get(&ui, path, &[]);
            let csp = header(&r, "content-security-policy");
            assert_eq!(csp, CONTENT_SECURITY_POLICY, "{path}");
            assert_eq!(header(&r, "x-content-type-options"), "nosniff");
            assert_eq!(header(&r, "x-frame-options"), "DENY");
        }
        let directives: Vec<&str> = CONTENT_SECURITY_POLICY.split(';').map(str::trim).collect();
        assert!(directives.contains(&"script-src 'self'"));
        assert!(directives.contains(&"connect-src 'self'"));
        assert!(directives.contains(&"frame-ancestors 'none'"));
        assert!(!CONTENT_SECURITY_POLICY.contains("unsafe-inline"));
        assert!(!CONTENT_SECURITY_POLICY.contains("unsafe-eval"));
    }

    #[test]
    fn head_has_the_headers_without_the_body() {
        let ui = ui();
        let mut h = HeaderMap::new();
        h.insert(ACCEPT_ENCODING, HeaderValue::from_static("gzip"));
        let r = ui.serve(&Method::HEAD, "/providers", &h).unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert!(r.body().is_empty());
        assert_eq!(header(&r, "content-encoding"), "gzip");
        let full = get(&ui, "/providers", &[("accept-encoding", "gzip")]);
        assert_eq!(header(&r, "content-length"), full.body().len().to_string());
    }

    #[test]
    fn without_a_build_every_route_explains_how_to_get_the_ui() {
        let ui = Ui::missing("Node.js 20+ (node and npm on PATH) is not installed <b>");
        assert!(!ui.is_built());
        for path in ["/", "/providers/openai", "/logs"] {
            let r = get(&ui, path, &[("accept-encoding", "br, gzip")]);
            assert_eq!(r.status(), StatusCode::OK, "{path}");
            assert_eq!(header(&r, "content-type"), "text/html; charset=utf-8");
            assert_eq!(header(&r, "cache-control"), "no-cache");
            assert_eq!(
                header(&r, "content-security-policy"),
                CONTENT_SECURITY_POLICY
            );
            let page = std::str::from_utf8(r.body()).unwrap();
            assert!(page.contains("<meta name=\"gproxy-ui\" content=\"missing\">"));
            assert!(page.contains("Install Node.js 20 or newer"));
            assert!(
                page.contains("is not installed &lt;b&gt;"),
                "the reason is escaped"
            );
            assert!(!page.contains("<script"), "no script, so the CSP holds");
            assert!(!page.contains("style"), "no inline style, so the CSP holds");
        }
        assert_eq!(
            get(&ui, "/assets/index-1.js", &[]).status(),
            StatusCode::NOT_FOUND
        );
    }

    #[test]
    fn the_embedded_table_is_consistent() {
        let ui = Ui::embedded();
        if !ui.is_built() {
            return;
        }
        let index = get(&ui, "/", &[]);
        assert_eq!(index.status(), StatusCode::OK);
        let html = std::str::from_utf8(index.body()).unwrap();
        assert!(html.contains("<div id=\"root\">"), "{html}");
        // Every asset index.html names is embedded, and no script is inline.
        for src in html
            .split("src=\"")
            .skip(1)
            .chain(html.split("href=\"").skip(1))
        {
            let url = src.split('"').next().unwrap();
            if url.starts_with("/assets/") {
                assert_eq!(get(&ui, url, &[]).status(), StatusCode::OK, "{url}");
            }
        }
        assert!(!html.contains("<script>"), "inline script breaks the CSP");
        for asset in ui.assets.values() {
            if let Some(gz) = asset.gzip {
                assert_eq!(gunzip(gz), asset.identity, "{}", asset.path);
            }
            if let Some(br) = asset.brotli {
                assert_eq!(unbrotli(br), asset.identity, "{}", asset.path);
            }
        }
    }
}
