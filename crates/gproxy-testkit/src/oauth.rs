//! Google OAuth and Vertex AI: a token endpoint (`POST /token`) that
//! checks a service account's RS256 JWT the way Google does and issues
//! bearer tokens, and the test-only service-account key it trusts.
//!
//! The Vertex paths (`/v1/projects/{p}/locations/{l}/publishers/google/models/{m}:{method}`)
//! are served by the Gemini handlers once the request carries a token this
//! endpoint issued; the express-mode paths
//! (`/v1/publishers/google/models/{m}:{method}`) take an API key.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use http::{Response, StatusCode};
use ring::signature::{RSA_PKCS1_2048_8192_SHA256, RsaKeyPair, UnparsedPublicKey};
use serde_json::{Value, json};

use crate::body::MockBody;
use crate::fault::json_response;
use crate::server::{MockRequest, unix_now};
use crate::{Shared, lock};

/// The test-only RSA private key (PKCS#8 PEM) of the mock service account.
/// It protects nothing; never use it outside tests.
pub const TEST_PRIVATE_KEY_PEM: &str =
    include_str!("../fixtures/test-only-service-account.key.pem");

/// The public half of [`TEST_PRIVATE_KEY_PEM`], which the token endpoint
/// verifies JWTs with.
pub const TEST_PUBLIC_KEY_PEM: &str = include_str!("../fixtures/test-only-service-account.pub.pem");

/// The mock service account's e-mail (the JWT's `iss`).
pub const SERVICE_ACCOUNT_EMAIL: &str = "gproxy-test@test-project.iam.gserviceaccount.com";

/// The mock service account's key id (the JWT's `kid`).
pub const SERVICE_ACCOUNT_KEY_ID: &str = "test-only-key-1";

/// The scope the token endpoint requires.
const SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";

/// The grant type the token endpoint requires, form-decoded.
const GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// Token endpoint state.
#[derive(Debug)]
pub(crate) struct OAuthState {
    /// `expires_in` of issued tokens, in seconds.
    pub expires_in: u64,
    /// Every token issued, oldest first.
    pub issued: Vec<String>,
    /// Token requests that carried a valid JWT.
    pub exchanges: usize,
    /// Token requests refused.
    pub refused: usize,
}

impl Default for OAuthState {
    fn default() -> Self {
        OAuthState {
            expires_in: 3600,
            issued: Vec::new(),
            exchanges: 0,
            refused: 0,
        }
    }
}

/// The JSON key file of the mock service account for `project`, whose
/// `token_uri` is `token_uri` (the mock's `/token`).
pub fn service_account_json(project: &str, token_uri: &str) -> String {
    json!({
        "type": "service_account",
        "project_id": project,
        "private_key_id": SERVICE_ACCOUNT_KEY_ID,
        "private_key": TEST_PRIVATE_KEY_PEM,
        "client_email": SERVICE_ACCOUNT_EMAIL,
        "client_id": "100000000000000000001",
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": token_uri,
    })
    .to_string()
}

/// Whether `token` was issued by this mock.
pub(crate) fn is_issued(shared: &Shared, token: &str) -> bool {
    lock(&shared.oauth).issued.iter().any(|t| t == token)
}

/// `POST /token`.
pub(crate) fn token(shared: &Shared, req: &MockRequest) -> Response<MockBody> {
    match check(req) {
        Ok(()) => {
            let mut state = lock(&shared.oauth);
            state.exchanges += 1;
            let token = format!("ya29.mock-{}", state.exchanges);
            state.issued.push(token.clone());
            let answer = json!({
                "access_token": token,
                "expires_in": state.expires_in,
                "token_type": "Bearer",
            });
            json_response(StatusCode::OK, &answer)
        }
        Err(reason) => {
            lock(&shared.oauth).refused += 1;
            let answer = json!({ "error": "invalid_grant", "error_description": reason });
            json_response(StatusCode::BAD_REQUEST, &answer)
        }
    }
}

/// The RSAPublicKey (PKCS#1 DER) of the test key pair, as `ring` verifies
/// with it. Taken from the private key, which `ring` parses; a test checks
/// that [`TEST_PUBLIC_KEY_PEM`] holds the same key.
fn test_public_key() -> Option<Vec<u8>> {
    let der = pem_der(TEST_PRIVATE_KEY_PEM)?;
    let pair = RsaKeyPair::from_pkcs8(&der).ok()?;
    Some(pair.public().as_ref().to_vec())
}

/// The DER bytes of a one-block PEM text.
fn pem_der(pem: &str) -> Option<Vec<u8>> {
    let body: String = pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .flat_map(|l| l.trim().chars())
        .collect();
    STANDARD.decode(body).ok()
}

/// Checks the form and the JWT: grant type, RS256 signature by the test
/// key, `kid`, `iss`, `scope`, `aud` (this endpoint's URL) and `exp`.
fn check(req: &MockRequest) -> Result<(), String> {
    if req.header("content-type") != Some("application/x-www-form-urlencoded") {
        return Err("content-type must be application/x-www-form-urlencoded".into());
    }
    let form = std::str::from_utf8(&req.body).map_err(|_| "form is not UTF-8".to_owned())?;
    let field = |name: &str| {
        form.split('&').find_map(|pair| {
            let (k, v) = pair.split_once('=')?;
            (k == name).then(|| v.replace("%3A", ":").replace("%3a", ":"))
        })
    };
    if field("grant_type").as_deref() != Some(GRANT) {
        return Err("Invalid grant_type".into());
    }
    let jwt = field("assertion").ok_or_else(|| "missing assertion".to_owned())?;
    let parts: Vec<&str> = jwt.split('.').collect();
    let [header, claims, signature] = parts[..] else {
        return Err("Invalid JWT: not three parts".into());
    };
    let decode = |part: &str| -> Result<Value, String> {
        let bytes = URL_SAFE_NO_PAD
            .decode(part)
            .map_err(|_| "Invalid JWT: bad base64".to_owned())?;
        serde_json::from_slice(&bytes).map_err(|_| "Invalid JWT: bad JSON".to_owned())
    };
    let (header_json, claims_json) = (decode(header)?, decode(claims)?);
    if header_json["alg"] != "RS256" || header_json["typ"] != "JWT" {
        return Err("Invalid JWT header".into());
    }
    if header_json["kid"] != SERVICE_ACCOUNT_KEY_ID {
        return Err("Invalid JWT: unknown kid".into());
    }
    let public = test_public_key().ok_or_else(|| "test public key unreadable".to_owned())?;
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|_| "Invalid JWT Signature.".to_owned())?;
    UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, public)
        .verify(format!("{header}.{claims}").as_bytes(), &signature)
        .map_err(|_| "Invalid JWT Signature.".to_owned())?;
    let audience = format!("http://{}/token", req.header("host").unwrap_or_default());
    if claims_json["aud"] != audience.as_str() {
        return Err(format!("Invalid JWT: aud must be {audience}"));
    }
    if claims_json["scope"] != SCOPE {
        return Err("Invalid JWT: scope".into());
    }
    if claims_json["iss"] != SERVICE_ACCOUNT_EMAIL {
        return Err("Invalid JWT: iss".into());
    }
    let now = unix_now();
    let exp = claims_json["exp"].as_u64().unwrap_or(0);
    let iat = claims_json["iat"].as_u64().unwrap_or(u64::MAX);
    if exp <= now || iat > now + 60 || exp > iat + 3600 {
        return Err("Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe.".into());
    }
    Ok(())
}

/// The `{model}:{method}` of a Vertex path, when the path is one.
pub(crate) fn vertex_target(path: &str) -> Option<(&str, &str)> {
    let rest = path.strip_prefix("/v1/projects/")?;
    let mut segments = rest.splitn(5, '/');
    let (_project, locations, _location, publishers) = (
        segments.next()?,
        segments.next()?,
        segments.next()?,
        segments.next()?,
    );
    if locations != "locations" || publishers != "publishers" {
        return None;
    }
    let rest = segments.next()?.strip_prefix("google/models/")?;
    let (model, method) = rest.rsplit_once(':')?;
    (!model.is_empty() && !model.contains('/')).then_some((model, method))
}

/// The `{model}:{method}` of an express-mode path.
pub(crate) fn express_target(path: &str) -> Option<(&str, &str)> {
    let rest = path.strip_prefix("/v1/publishers/google/models/")?;
    let (model, method) = rest.rsplit_once(':')?;
    (!model.is_empty() && !model.contains('/')).then_some((model, method))
}

/// What Vertex answers without a valid token.
pub(crate) fn unauthenticated() -> Response<MockBody> {
    crate::fault::gemini_error(
        StatusCode::UNAUTHORIZED,
        "UNAUTHENTICATED",
        "Request had invalid authentication credentials. Expected OAuth 2 access token.",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vertex_and_express_paths_are_parsed() {
        assert_eq!(
            vertex_target(
                "/v1/projects/p/locations/us-central1/publishers/google/models/g:generateContent"
            ),
            Some(("g", "generateContent"))
        );
        assert_eq!(
            vertex_target("/v1/projects/p/locations/l/models/g:generateContent"),
            None
        );
        assert_eq!(
            express_target("/v1/publishers/google/models/g:streamGenerateContent"),
            Some(("g", "streamGenerateContent"))
        );
        assert_eq!(express_target("/v1/models/g:generateContent"), None);
    }

    #[test]
    fn the_fixture_keys_are_a_pair() {
        // A SubjectPublicKeyInfo ends with the RSAPublicKey it wraps.
        let spki = pem_der(TEST_PUBLIC_KEY_PEM).unwrap();
        let from_private = test_public_key().unwrap();
        assert!(from_private.len() > 256);
        assert!(spki.ends_with(&from_private));
    }
}
