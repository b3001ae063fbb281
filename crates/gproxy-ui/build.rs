//! Builds the admin SPA (`frontend/`) and embeds it, precompressed.
//!
//! Cargo reruns this script only when a build input of the SPA changed
//! (each source file is listed with `rerun-if-changed`), so a
//! `cargo test --workspace` with an untouched `frontend/` does not rebuild
//! it. When it runs: `npm ci` if `node_modules` is missing or older than
//! `package-lock.json`, then `npm run build` into `OUT_DIR` (not
//! `frontend/dist`, so two builds never race on one folder and the output
//! never counts as a changed input), then every file is compressed with
//! gzip and brotli and listed in a generated `assets.rs` of `include_bytes!`.
//!
//! Without Node.js, with `GPROXY_UI_SKIP_BUILD=1`, or when the SPA build
//! fails outside CI (`CI=true` makes that an error), the crate still
//! compiles and serves a page that says how to get the UI.
//!
//! `GPROXY_UI_DIST=<dir>` embeds an SPA built beforehand (`npm run build`'s
//! output, with its `index.html`) instead of building one: the Dockerfile
//! and the release workflow build the SPA once, in one place, and hand it
//! to every Rust build. A relative path is taken from the workspace root;
//! a directory without `index.html` is an error.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

use sha2::{Digest, Sha256};

#[path = "src/mime.rs"]
mod mime;

type BoxError = Box<dyn std::error::Error>;

/// Files at the root of `frontend/` that shape the built SPA.
const ROOT_INPUTS: &[&str] = &[
    "index.html",
    "package.json",
    "package-lock.json",
    "vite.config.ts",
    "tsconfig.json",
    "tsconfig.app.json",
    "tsconfig.node.json",
    "openapi.json",
];
/// Folders of `frontend/` whose files shape the built SPA.
const DIR_INPUTS: &[&str] = &["src", "public"];
/// Generated from `openapi.json` during the build; watching it would make
/// every build look stale to the next one.
const GENERATED: &str = "src/api/schema.d.ts";
/// Oldest Node.js major version the toolchain supports.
const MIN_NODE_MAJOR: u32 = 20;

/// Why there is no built SPA.
enum NoBuild {
    /// Not attempted (no Node.js, no sources, or skipped on purpose).
    Unavailable(String),
    /// Attempted and failed.
    Failed(String),
}

fn main() -> Result<(), BoxError> {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    // The workspace root is two levels up (crates/gproxy-ui).
    let root = manifest.ancestors().nth(2).unwrap_or(&manifest);
    let frontend = root.join("frontend");
    println!("cargo:rerun-if-env-changed=GPROXY_UI_SKIP_BUILD");
    println!("cargo:rerun-if-env-changed=GPROXY_UI_DIST");
    println!("cargo:rerun-if-env-changed=CI");
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    let skip = std::env::var("GPROXY_UI_SKIP_BUILD").is_ok_and(|v| !v.is_empty() && v != "0");
    let prebuilt = std::env::var_os("GPROXY_UI_DIST").filter(|v| !v.is_empty());

    let built = if let Some(dist) = prebuilt {
        // A relative path is taken from the workspace root, where the
        // build is started from (a build script runs in its crate's folder).
        Ok(prebuilt_dist(&root.join(dist))?)
    } else if !frontend.join("package.json").is_file() {
        // Noticed when the sources appear.
        println!(
            "cargo:rerun-if-changed={}",
            frontend.join("package.json").display()
        );
        Err(NoBuild::Unavailable(format!(
            "the sources ({}) are not here",
            frontend.display()
        )))
    } else {
        watch_inputs(&frontend)?;
        if skip {
            Err(NoBuild::Unavailable("GPROXY_UI_SKIP_BUILD is set".into()))
        } else {
            build_spa(&frontend, &out.join("dist"))
        }
    };
    let code = match built {
        Ok(dist) => embed(&dist, &out)?,
        Err(NoBuild::Failed(why)) if ci => {
            return Err(format!("CI=true: the web UI did not build: {why}").into());
        }
        Err(NoBuild::Failed(why) | NoBuild::Unavailable(why)) => {
            println!("cargo:warning=gproxy-ui: serving the 'how to get the UI' page: {why}");
            format!("pub(crate) static EMBEDDED: Embedded = Embedded::Missing({why:?});\n")
        }
    };
    std::fs::write(out.join("assets.rs"), code)?;
    Ok(())
}

/// Lists every SPA build input with `rerun-if-changed`, file by file (a
/// folder would be scanned whole, generated files included).
fn watch_inputs(frontend: &Path) -> Result<(), BoxError> {
    for name in ROOT_INPUTS {
        // A missing file is not listed: cargo would rerun on every build.
        let path = frontend.join(name);
        if path.is_file() {
            println!("cargo:rerun-if-changed={}", path.display());
        }
    }
    for dir in DIR_INPUTS {
        let mut files = Vec::new();
        walk(&frontend.join(dir), &mut files)?;
        for file in files {
            let rel = file.strip_prefix(frontend).unwrap_or(&file);
            let rel = rel.to_string_lossy().replace('\\', "/");
            let is_test = rel.contains(".test.");
            if rel != GENERATED && !is_test {
                println!("cargo:rerun-if-changed={}", file.display());
            }
        }
    }
    Ok(())
}

/// An SPA built beforehand (`GPROXY_UI_DIST`): it must hold `index.html`.
/// Each of its files is watched, so a rebuilt SPA is embedded again.
fn prebuilt_dist(dist: &Path) -> Result<PathBuf, BoxError> {
    if !dist.join("index.html").is_file() {
        return Err(format!(
            "GPROXY_UI_DIST={}: no index.html there (point it at `npm run build`'s output)",
            dist.display()
        )
        .into());
    }
    let mut files = Vec::new();
    walk(dist, &mut files)?;
    for file in &files {
        println!("cargo:rerun-if-changed={}", file.display());
    }
    Ok(dist.to_owned())
}

/// Every file under `dir` (none when it does not exist), sorted.
fn walk(dir: &Path, files: &mut Vec<PathBuf>) -> Result<(), BoxError> {
    if !dir.is_dir() {
        return Ok(());
    }
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(std::fs::DirEntry::path);
    for entry in entries {
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            walk(&path, files)?;
        } else {
            files.push(path);
        }
    }
    Ok(())
}

/// `npm ci` when needed, then `npm run build` into `dist`.
fn build_spa(frontend: &Path, dist: &Path) -> Result<PathBuf, NoBuild> {
    let npm = if cfg!(windows) { "npm.cmd" } else { "npm" };
    let node = Command::new("node").arg("--version").output();
    let version = match node {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).trim().to_owned(),
        _ => {
            return Err(NoBuild::Unavailable(format!(
                "Node.js {MIN_NODE_MAJOR}+ (node and npm on PATH) is not installed"
            )));
        }
    };
    let major = version
        .trim_start_matches('v')
        .split('.')
        .next()
        .and_then(|m| m.parse::<u32>().ok());
    if major.is_none_or(|m| m < MIN_NODE_MAJOR) {
        return Err(NoBuild::Unavailable(format!(
            "Node.js {version} is too old; {MIN_NODE_MAJOR}+ is needed"
        )));
    }
    if node_modules_stale(frontend) {
        run(
            Command::new(npm)
                .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
                .current_dir(frontend),
            "npm ci",
        )?;
    }
    let dist_arg = dist.to_string_lossy().into_owned();
    run(
        Command::new(npm)
            .args(["run", "build", "--", "--outDir", &dist_arg, "--emptyOutDir"])
            .current_dir(frontend),
        "npm run build",
    )?;
    if !dist.join("index.html").is_file() {
        return Err(NoBuild::Failed(format!(
            "npm run build left no index.html in {}",
            dist.display()
        )));
    }
    Ok(dist.to_owned())
}

/// Runs `cmd`, echoing its output to this script's log (shown by
/// `cargo build -vv` or on failure); a failure carries its last lines.
fn run(cmd: &mut Command, what: &str) -> Result<(), NoBuild> {
    let output = cmd.output().map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => NoBuild::Unavailable("npm is not on PATH".into()),
        _ => NoBuild::Failed(format!("{what}: {e}")),
    })?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let _ = std::io::stderr().write_all(text.as_bytes());
    if output.status.success() {
        return Ok(());
    }
    let tail: Vec<&str> = text.lines().rev().take(30).collect();
    let tail: Vec<&str> = tail.into_iter().rev().collect();
    Err(NoBuild::Failed(format!(
        "{what} failed ({}):\n{}",
        output.status,
        tail.join("\n")
    )))
}

/// Whether `node_modules` is missing or older than the lock file (npm
/// writes `node_modules/.package-lock.json` at the end of an install).
fn node_modules_stale(frontend: &Path) -> bool {
    let modified = |p: PathBuf| -> Option<SystemTime> { p.metadata().ok()?.modified().ok() };
    match (
        modified(frontend.join("node_modules/.package-lock.json")),
        modified(frontend.join("package-lock.json")),
    ) {
        (Some(installed), Some(locked)) => installed < locked,
        _ => true,
    }
}

/// Compresses every file of `dist` and returns the generated table.
fn embed(dist: &Path, out: &Path) -> Result<String, BoxError> {
    let packed = out.join("packed");
    if packed.exists() {
        std::fs::remove_dir_all(&packed)?;
    }
    std::fs::create_dir_all(&packed)?;
    let mut files = Vec::new();
    walk(dist, &mut files)?;
    let mut code = String::from("pub(crate) static EMBEDDED: Embedded = Embedded::Built(&[\n");
    for (i, file) in files.iter().enumerate() {
        let rel = file
            .strip_prefix(dist)?
            .to_string_lossy()
            .replace('\\', "/");
        let path = format!("/{rel}");
        let bytes = std::fs::read(file)?;
        let digest = Sha256::digest(&bytes);
        let etag = hex(&digest[..12]);
        let (gzip, brotli) = if mime::compressible(&path) && !bytes.is_empty() {
            (
                keep_if_smaller(gzip(&bytes)?, &bytes, &packed.join(format!("{i}.gz")))?,
                keep_if_smaller(brotli(&bytes)?, &bytes, &packed.join(format!("{i}.br")))?,
            )
        } else {
            (None, None)
        };
        let included = |p: Option<PathBuf>| match p {
            Some(p) => format!("Some(include_bytes!({:?}))", p.to_string_lossy()),
            None => "None".to_owned(),
        };
        writeln!(
            code,
            "    Asset {{ path: {path:?}, content_type: {:?}, etag: {etag:?}, identity: include_bytes!({:?}), gzip: {}, brotli: {} }},",
            mime::content_type(&path),
            file.to_string_lossy(),
            included(gzip),
            included(brotli),
        )?;
    }
    code.push_str("]);\n");
    Ok(code)
}

/// Writes `packed` to `path` when it is smaller than `raw`.
fn keep_if_smaller(packed: Vec<u8>, raw: &[u8], path: &Path) -> Result<Option<PathBuf>, BoxError> {
    if packed.len() >= raw.len() {
        return Ok(None);
    }
    std::fs::write(path, packed)?;
    Ok(Some(path.to_owned()))
}

fn gzip(bytes: &[u8]) -> Result<Vec<u8>, BoxError> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(bytes)?;
    Ok(encoder.finish()?)
}

fn brotli(bytes: &[u8]) -> Result<Vec<u8>, BoxError> {
    let params = brotli::enc::BrotliEncoderParams {
        quality: 11,
        lgwin: 22,
        ..Default::default()
    };
    let mut out = Vec::new();
    brotli::BrotliCompress(&mut &bytes[..], &mut out, &params)?;
    Ok(out)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}
