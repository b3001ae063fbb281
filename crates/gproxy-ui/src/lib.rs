//! The admin web UI: the SPA in `frontend/`, built by this crate's build
//! script, precompressed (gzip, brotli) and embedded in the binary, and the
//! rules it is served by (see [`Ui::serve`]).
//!
//! The crate knows nothing of the gateway: it answers `(method, path,
//! headers)` with a response or `None`. The router asks it only for GET and
//! HEAD paths no gateway route claims, so the proxy routes never pay for it.

mod mime;
mod serve;

pub use mime::{compressible, content_type};
pub use serve::CONTENT_SECURITY_POLICY;

/// One embedded file.
#[derive(Debug)]
pub struct Asset {
    /// URL path (`/index.html`, `/assets/index-3f9a.js`).
    pub path: &'static str,
    /// `Content-Type`.
    pub content_type: &'static str,
    /// A digest of the uncompressed bytes (hex), the base of the ETags.
    pub etag: &'static str,
    /// The bytes.
    pub identity: &'static [u8],
    /// Gzip-compressed, when smaller.
    pub gzip: Option<&'static [u8]>,
    /// Brotli-compressed, when smaller.
    pub brotli: Option<&'static [u8]>,
}

/// What the build script embedded.
#[derive(Debug)]
pub enum Embedded {
    /// The built SPA.
    Built(&'static [Asset]),
    /// No SPA; why (shown on the page that says how to get it).
    Missing(&'static str),
}

include!(concat!(env!("OUT_DIR"), "/assets.rs"));

/// The UI as served: the assets by path, or the reason there are none.
#[derive(Debug)]
pub struct Ui {
    assets: std::collections::HashMap<&'static str, &'static Asset>,
    missing: Option<String>,
}

impl Ui {
    /// The UI embedded in this binary.
    pub fn embedded() -> Ui {
        match &EMBEDDED {
            Embedded::Built(assets) => Ui::from_assets(assets),
            Embedded::Missing(why) => Ui::missing(why),
        }
    }

    /// A UI serving `assets` (one must be `/index.html`).
    pub fn from_assets(assets: &'static [Asset]) -> Ui {
        Ui {
            assets: assets.iter().map(|a| (a.path, a)).collect(),
            missing: None,
        }
    }

    /// A UI that only explains how to get the real one, and why it is not
    /// here (`why`).
    pub fn missing(why: &str) -> Ui {
        Ui {
            assets: std::collections::HashMap::new(),
            missing: Some(why.to_owned()),
        }
    }

    /// Whether the SPA is embedded (false: the explanation page).
    pub fn is_built(&self) -> bool {
        self.missing.is_none()
    }

    /// How many files are embedded.
    pub fn len(&self) -> usize {
        self.assets.len()
    }

    /// Whether no file is embedded.
    pub fn is_empty(&self) -> bool {
        self.assets.is_empty()
    }
}
