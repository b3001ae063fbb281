//! The master key that seals credential secrets at rest, and the private
//! file modes of the data directory.
//!
//! Where the key comes from, in order: `--master-key` / `GPROXY_MASTER_KEY`,
//! else `<data dir>/master.key`, else a new key written there (mode 0600)
//! — but only while the database holds no sealed secret: a database
//! sealed under another key makes start-up fail with a clear message
//! rather than serve without its credentials. A check value sealed under
//! the key (settings `master_key_check`) tells the two cases apart.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use gproxy_credential::seal::{self, MasterKey, Sealer};
use gproxy_storage::Storage;

use crate::CoreError;

/// The key file's name in the data dir.
pub const KEY_FILE: &str = "master.key";
/// Settings key of the check value sealed under the master key.
pub const SETTING_KEY_CHECK: &str = "master_key_check";
/// The plaintext of the check value.
const CHECK_PLAINTEXT: &[u8] = b"gproxy master key check";

/// Where the master key came from (for the banner; never the key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// `--master-key` / `GPROXY_MASTER_KEY`.
    Given,
    /// The key file, read.
    File(PathBuf),
    /// The key file, written now.
    Generated(PathBuf),
}

impl std::fmt::Display for KeySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeySource::Given => f.write_str("from GPROXY_MASTER_KEY / --master-key"),
            KeySource::File(p) => write!(f, "from {}", p.display()),
            KeySource::Generated(p) => write!(
                f,
                "generated in {} (keep it with your backups: without it the stored credentials cannot be read)",
                p.display()
            ),
        }
    }
}

/// Resolves the master key, checks it against the database, and seals every
/// credential row still in plaintext. Returns the sealer and the key's source.
pub async fn open_vault(
    storage: &Storage,
    data_dir: &Path,
    given: Option<&str>,
) -> Result<(Arc<Sealer>, KeySource), CoreError> {
    let check = storage.get_setting(SETTING_KEY_CHECK).await?;
    let path = data_dir.join(KEY_FILE);
    let (key, source) = match given {
        Some(text) => (
            MasterKey::parse(text).map_err(|e| {
                CoreError::Invalid(format!("GPROXY_MASTER_KEY / --master-key: {e}"))
            })?,
            KeySource::Given,
        ),
        None if path.exists() => (read_key_file(&path)?, KeySource::File(path.clone())),
        None if check.is_some() => {
            return Err(CoreError::Invalid(format!(
                "this database's credentials are sealed under a master key this instance does not have \
                 (no GPROXY_MASTER_KEY and no {}): give the key the other instances use",
                path.display()
            )));
        }
        None => {
            let key = MasterKey::generate();
            write_key_file(&path, &key)?;
            (key, KeySource::Generated(path.clone()))
        }
    };
    let sealer = Sealer::new(&key);
    match check {
        Some(check) => {
            if sealer.open(&check, seal::KEY_CHECK).is_err() {
                return Err(CoreError::Invalid(format!(
                    "the master key ({source}) is not the one this database's credentials are sealed under; \
                     start with the original key (GPROXY_MASTER_KEY or the original {KEY_FILE})"
                )));
            }
        }
        None => {
            storage
                .set_setting(
                    SETTING_KEY_CHECK,
                    &sealer.seal(CHECK_PLAINTEXT, seal::KEY_CHECK),
                )
                .await?;
        }
    }
    let sealed = seal_plaintext_rows(storage, &sealer).await?;
    if sealed > 0 {
        // Leave no copy of the plaintext in free pages or the WAL.
        storage.compact().await?;
        tracing::info!(
            sealed,
            "sealed credential secrets stored in plaintext by an older version"
        );
    }
    Ok((Arc::new(sealer), source))
}

/// Seals every credential whose secret is still plaintext; how many.
async fn seal_plaintext_rows(storage: &Storage, sealer: &Sealer) -> Result<usize, CoreError> {
    let mut n = 0;
    for row in storage.list_credentials().await? {
        if seal::is_sealed(&row.secret) {
            continue;
        }
        let patch = gproxy_storage::CredentialPatch {
            secret: Some((row.kind.clone(), sealer.seal_json(&row.secret))),
            ..Default::default()
        };
        storage.update_credential(row.id, &patch).await?;
        n += 1;
    }
    Ok(n)
}

fn read_key_file(path: &Path) -> Result<MasterKey, CoreError> {
    let text = std::fs::read_to_string(path).map_err(|source| CoreError::Io {
        what: format!("cannot read the master key file {}", path.display()),
        source,
    })?;
    warn_if_wide(path, 0o600);
    MasterKey::parse(&text)
        .map_err(|e| CoreError::Invalid(format!("master key file {}: {e}", path.display())))
}

fn write_key_file(path: &Path, key: &MasterKey) -> Result<(), CoreError> {
    use std::io::Write;
    let io = |source| CoreError::Io {
        what: format!("cannot write the master key file {}", path.display()),
        source,
    };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(io)?;
    file.write_all(format!("{}\n", key.to_base64()).as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(io)?;
    set_mode(path, 0o600);
    Ok(())
}

/// Creates the data dir owner-only (0700) when it is new; warns when an
/// existing one is readable by others.
pub fn prepare_data_dir(dir: &Path) -> Result<(), CoreError> {
    let existed = dir.exists();
    std::fs::create_dir_all(dir).map_err(|source| CoreError::Io {
        what: format!("cannot create data dir {}", dir.display()),
        source,
    })?;
    if existed {
        warn_if_wide(dir, 0o700);
    } else {
        set_mode(dir, 0o700);
    }
    Ok(())
}

/// Makes a SQLite database file (and its `-wal` / `-shm` files) owner-only.
pub fn protect_sqlite_files(dsn: &str) {
    let Some(path) = dsn
        .strip_prefix("sqlite://")
        .or_else(|| dsn.strip_prefix("sqlite:"))
        .map(|p| p.split('?').next().unwrap_or(p))
        .filter(|p| !p.is_empty() && !p.contains(":memory:"))
    else {
        return;
    };
    for suffix in ["", "-wal", "-shm"] {
        let file = PathBuf::from(format!("{path}{suffix}"));
        if file.exists() {
            set_mode(&file, 0o600);
        }
    }
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    if let Err(e) = std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)) {
        tracing::warn!(path = %path.display(), error = %e, "cannot restrict file permissions");
    }
}

#[cfg(not(unix))]
fn set_mode(_path: &Path, _mode: u32) {}

#[cfg(unix)]
fn warn_if_wide(path: &Path, allowed: u32) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = std::fs::metadata(path) {
        let mode = meta.permissions().mode() & 0o777;
        if mode & !allowed != 0 {
            tracing::warn!(
                path = %path.display(),
                mode = format!("{mode:o}"),
                "readable by other local users; consider chmod {allowed:o}"
            );
        }
    }
}

#[cfg(not(unix))]
fn warn_if_wide(_path: &Path, _allowed: u32) {}
