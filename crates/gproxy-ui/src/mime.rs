//! Content types and compressibility by file extension. Shared with the
//! build script (`#[path]`), which decides at build time what to
//! precompress and records each asset's type in the embedded table.

/// The `Content-Type` of a file named `path` (by its extension).
pub fn content_type(path: &str) -> &'static str {
    match extension(path).as_deref() {
        Some("html" | "htm") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("json" | "map") => "application/json",
        Some("webmanifest") => "application/manifest+json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("gif") => "image/gif",
        Some("webp") => "image/webp",
        Some("avif") => "image/avif",
        Some("ico") => "image/x-icon",
        Some("woff2") => "font/woff2",
        Some("woff") => "font/woff",
        Some("ttf") => "font/ttf",
        Some("otf") => "font/otf",
        Some("txt") => "text/plain; charset=utf-8",
        Some("xml") => "application/xml",
        Some("wasm") => "application/wasm",
        _ => "application/octet-stream",
    }
}

/// Whether compressing `path` is worth it: text formats yes; images,
/// fonts and wasm that are compressed already, no.
pub fn compressible(path: &str) -> bool {
    matches!(
        extension(path).as_deref(),
        Some(
            "html"
                | "htm"
                | "js"
                | "mjs"
                | "css"
                | "json"
                | "map"
                | "webmanifest"
                | "svg"
                | "ico"
                | "txt"
                | "xml"
                | "ttf"
                | "otf"
        )
    )
}

fn extension(path: &str) -> Option<String> {
    let name = path.rsplit('/').next()?;
    let (_, ext) = name.rsplit_once('.')?;
    Some(ext.to_ascii_lowercase())
}
