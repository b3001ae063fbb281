//! Google Vertex AI, Gemini protocol: `vertex` (service-account key,
//! OAuth bearer token, project and location in the URL) and
//! `vertexexpress` (express-mode API key, global endpoint, no project).

use gproxy_credential::Credential;
use gproxy_protocol::Protocol;
use http::HeaderMap;
use serde::{Deserialize, Serialize};

use crate::models::{ModelPage, ModelsError};
use crate::traits::{AuthForm, join_url, secret_header, unsupported};
use crate::{CountTokensApi, Endpoint, Provider, ProviderError};

/// The kind name of Vertex AI with a service account.
pub const VERTEX_KIND: &str = "vertex";

/// Vertex AI's global endpoint (express mode, and `location = "global"`).
pub const VERTEX_GLOBAL_BASE: &str = "https://aiplatform.googleapis.com";

/// The location used when none is configured.
pub const DEFAULT_LOCATION: &str = "us-central1";

/// The Gemini models both Vertex kinds list. Vertex has a publisher model
/// list (`v1beta1/publishers/google/models`), but it is a beta API that
/// lists every publisher model (not only those the project may call) and
/// express-mode keys cannot read it, so the list is a fixed one.
const VERTEX_MODELS: &[&str] = &[
    "gemini-2.5-pro",
    "gemini-2.5-flash",
    "gemini-2.5-flash-lite",
    "gemini-2.0-flash",
    "gemini-2.0-flash-lite",
];

/// A `vertex` provider's settings, stored in the provider row's `settings`
/// JSON (written as `project` / `location` in the config file's `[[providers]]`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VertexSettings {
    /// The Google Cloud project; default: the service account's `project_id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    /// The Vertex AI location (`us-central1`, `europe-west4`, `global`);
    /// default [`DEFAULT_LOCATION`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
}

impl VertexSettings {
    /// Checks the fields; the error names the field (`project`, `location`).
    pub fn validate(&self) -> Result<(), (String, String)> {
        if let Some(project) = &self.project {
            let ok = !project.is_empty()
                && project.len() <= 64
                && project
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-.:".contains(c));
            if !ok {
                return Err((
                    "project".into(),
                    format!(
                        "`{project}` is not a Google Cloud project id (lowercase letters, digits, `-`)"
                    ),
                ));
            }
        }
        if let Some(location) = &self.location {
            let ok = !location.is_empty()
                && location.len() <= 32
                && location
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
            if !ok {
                return Err((
                    "location".into(),
                    format!(
                        "`{location}` is not a Vertex AI location (e.g. `us-central1`, `global`)"
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// The error for an endpoint a Vertex kind does not serve: a Gemini method
/// it lacks, or another protocol.
fn vertex_unsupported(provider: &dyn Provider, endpoint: &Endpoint<'_>) -> ProviderError {
    let method = match endpoint {
        Endpoint::GeminiEmbed { batch: true, .. } => "batchEmbedContents",
        Endpoint::GeminiEmbed { batch: false, .. } => "embedContent",
        _ => return unsupported(provider, endpoint),
    };
    ProviderError::UnsupportedMethod {
        kind: provider.kind(),
        method,
    }
}

/// Vertex AI with a service-account key. Each configured provider is its
/// own instance (its project and location come from its settings).
#[derive(Debug, Clone)]
pub struct Vertex {
    project: Option<String>,
    location: String,
    default_base: String,
}

impl Default for Vertex {
    fn default() -> Self {
        Vertex::new(&VertexSettings::default())
    }
}

impl Vertex {
    /// A provider for already validated settings.
    pub fn new(settings: &VertexSettings) -> Self {
        let location = settings
            .location
            .clone()
            .unwrap_or_else(|| DEFAULT_LOCATION.to_owned());
        let default_base = if location == "global" {
            VERTEX_GLOBAL_BASE.to_owned()
        } else {
            format!("https://{location}-aiplatform.googleapis.com")
        };
        Vertex {
            project: settings.project.clone(),
            location,
            default_base,
        }
    }

    /// Validates a provider row's stored settings and builds the provider.
    pub fn from_settings(settings: &serde_json::Value) -> Result<Self, ProviderError> {
        let invalid = |field: String, message: String| ProviderError::InvalidSettings {
            kind: VERTEX_KIND,
            field,
            message,
        };
        let settings: VertexSettings = serde_json::from_value(settings.clone())
            .map_err(|e| invalid("settings".into(), e.to_string()))?;
        settings.validate().map_err(|(f, m)| invalid(f, m))?;
        Ok(Vertex::new(&settings))
    }

    /// The location in use.
    pub fn location(&self) -> &str {
        &self.location
    }

    fn url(&self, base_url: &str, project: &str, endpoint: &Endpoint<'_>) -> Option<String> {
        let (model, method, alt_sse) = match endpoint {
            Endpoint::GeminiGenerate {
                model,
                stream,
                alt_sse,
                ..
            } => {
                let method = if *stream {
                    "streamGenerateContent"
                } else {
                    "generateContent"
                };
                (*model, method, *stream && *alt_sse)
            }
            Endpoint::GeminiEmbed {
                model,
                batch: false,
                ..
            } => (*model, "embedContent", false),
            Endpoint::GeminiCountTokens { model, .. } => (*model, "countTokens", false),
            _ => return None,
        };
        let path = format!(
            "v1/projects/{project}/locations/{}/publishers/google/models/{model}:{method}",
            self.location
        );
        let mut url = join_url(base_url, &path);
        if alt_sse {
            url.push_str("?alt=sse");
        }
        Some(url)
    }
}

impl Provider for Vertex {
    fn kind(&self) -> &'static str {
        VERTEX_KIND
    }

    fn protocols(&self) -> &'static [Protocol] {
        &[Protocol::Gemini]
    }

    /// `https://{location}-aiplatform.googleapis.com`, or the global host for
    /// `location = "global"`. A configured base URL replaces it whole.
    fn default_base_url(&self) -> &str {
        &self.default_base
    }

    /// The URL with the configured project; without one, the project comes
    /// from the credential ([`Provider::upstream_url_for`]).
    fn upstream_url(
        &self,
        base_url: &str,
        endpoint: &Endpoint<'_>,
    ) -> Result<String, ProviderError> {
        let project = self
            .project
            .as_deref()
            .ok_or_else(|| ProviderError::InvalidSettings {
                kind: VERTEX_KIND,
                field: "project".into(),
                message: "no project configured and no service account to take it from".into(),
            })?;
        self.url(base_url, project, endpoint)
            .ok_or_else(|| vertex_unsupported(self, endpoint))
    }

    fn upstream_url_for(
        &self,
        base_url: &str,
        endpoint: &Endpoint<'_>,
        credential: &Credential,
    ) -> Result<String, ProviderError> {
        let project = match (&self.project, credential) {
            (Some(project), _) => project.as_str(),
            (None, Credential::ServiceAccount(key)) => key.project_id.as_str(),
            (None, _) => return self.upstream_url(base_url, endpoint),
        };
        self.url(base_url, project, endpoint)
            .ok_or_else(|| vertex_unsupported(self, endpoint))
    }

    fn auth_form(&self) -> AuthForm {
        AuthForm::Bearer
    }

    /// Only an access token exchanged from the service account goes
    /// upstream; the core resolves [`Credential::ServiceAccount`] into one.
    fn apply_auth(
        &self,
        credential: &Credential,
        headers: &mut HeaderMap,
    ) -> Result<(), ProviderError> {
        let Credential::AccessToken { token } = credential else {
            return Err(ProviderError::InvalidCredential {
                kind: VERTEX_KIND,
                reason: "a service-account credential is required",
            });
        };
        headers.insert(
            http::header::AUTHORIZATION,
            secret_header(VERTEX_KIND, "Bearer ", token)?,
        );
        Ok(())
    }

    fn models_url(&self, _base_url: &str, _page: Option<&str>) -> Option<String> {
        None
    }

    fn parse_models(&self, _body: &[u8]) -> Result<ModelPage, ModelsError> {
        Err(ModelsError::Invalid(
            "vertex has no model list endpoint".into(),
        ))
    }

    fn fallback_models(&self) -> &'static [&'static str] {
        VERTEX_MODELS
    }

    fn count_tokens_api(&self) -> Option<CountTokensApi> {
        Some(CountTokensApi::Vertex)
    }
}

/// Vertex AI in express mode: an API key, the global endpoint, no project
/// or location in the URL. Express mode serves generateContent and
/// streamGenerateContent (no embeddings).
#[derive(Debug, Clone, Copy, Default)]
pub struct VertexExpress;

impl Provider for VertexExpress {
    fn kind(&self) -> &'static str {
        "vertexexpress"
    }

    fn protocols(&self) -> &'static [Protocol] {
        &[Protocol::Gemini]
    }

    fn default_base_url(&self) -> &str {
        VERTEX_GLOBAL_BASE
    }

    fn upstream_url(
        &self,
        base_url: &str,
        endpoint: &Endpoint<'_>,
    ) -> Result<String, ProviderError> {
        let (model, method, alt_sse) = match endpoint {
            Endpoint::GeminiGenerate {
                model,
                stream: true,
                alt_sse,
                ..
            } => (model, "streamGenerateContent", *alt_sse),
            Endpoint::GeminiGenerate {
                model,
                stream: false,
                ..
            } => (model, "generateContent", false),
            Endpoint::GeminiCountTokens { model, .. } => (model, "countTokens", false),
            _ => return Err(vertex_unsupported(self, endpoint)),
        };
        let mut url = join_url(
            base_url,
            &format!("v1/publishers/google/models/{model}:{method}"),
        );
        if alt_sse {
            url.push_str("?alt=sse");
        }
        Ok(url)
    }

    /// Google APIs take an API key in `x-goog-api-key`, which keeps it out
    /// of URLs (and so out of proxy and access logs).
    fn auth_form(&self) -> AuthForm {
        AuthForm::Header("x-goog-api-key")
    }

    fn models_url(&self, _base_url: &str, _page: Option<&str>) -> Option<String> {
        None
    }

    fn parse_models(&self, _body: &[u8]) -> Result<ModelPage, ModelsError> {
        Err(ModelsError::Invalid(
            "vertexexpress has no model list endpoint".into(),
        ))
    }

    fn fallback_models(&self) -> &'static [&'static str] {
        VERTEX_MODELS
    }

    fn count_tokens_api(&self) -> Option<CountTokensApi> {
        Some(CountTokensApi::Vertex)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gproxy_credential::{Secret, ServiceAccountKey};

    const GEN: Endpoint<'static> = Endpoint::GeminiGenerate {
        version: "v1beta",
        model: "gemini-2.5-flash",
        stream: false,
        alt_sse: false,
    };
    const STREAM: Endpoint<'static> = Endpoint::GeminiGenerate {
        version: "v1beta",
        model: "gemini-2.5-flash",
        stream: true,
        alt_sse: true,
    };

    fn service_account(project: &str) -> Credential {
        let pem =
            include_str!("../../../gproxy-testkit/fixtures/test-only-service-account.key.pem");
        let key = ServiceAccountKey::from_json(&serde_json::json!({
            "type": "service_account",
            "project_id": project,
            "private_key_id": "k",
            "private_key": pem,
            "client_email": "sa@p.iam.gserviceaccount.com",
        }))
        .unwrap();
        Credential::ServiceAccount(Box::new(key))
    }

    fn settings(project: Option<&str>, location: Option<&str>) -> VertexSettings {
        VertexSettings {
            project: project.map(str::to_owned),
            location: location.map(str::to_owned),
        }
    }

    #[test]
    fn regional_urls_take_the_project_from_the_service_account() {
        let p = Vertex::default();
        assert_eq!(
            p.default_base_url(),
            "https://us-central1-aiplatform.googleapis.com"
        );
        let base = p.default_base_url().to_owned();
        assert_eq!(
            p.upstream_url_for(&base, &GEN, &service_account("sa-proj"))
                .unwrap(),
            "https://us-central1-aiplatform.googleapis.com/v1/projects/sa-proj/locations/us-central1/publishers/google/models/gemini-2.5-flash:generateContent"
        );
        assert_eq!(
            p.upstream_url_for("http://m", &STREAM, &service_account("sa-proj"))
                .unwrap(),
            "http://m/v1/projects/sa-proj/locations/us-central1/publishers/google/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
        );
        assert!(p.upstream_url("http://m", &GEN).is_err(), "no project");
    }

    #[test]
    fn configured_project_and_global_location_win() {
        let p = Vertex::new(&settings(Some("cfg-proj"), Some("global")));
        assert_eq!(p.default_base_url(), VERTEX_GLOBAL_BASE);
        assert_eq!(
            p.upstream_url_for(VERTEX_GLOBAL_BASE, &GEN, &service_account("sa-proj"))
                .unwrap(),
            "https://aiplatform.googleapis.com/v1/projects/cfg-proj/locations/global/publishers/google/models/gemini-2.5-flash:generateContent"
        );
        let embed = Endpoint::GeminiEmbed {
            version: "v1",
            model: "e",
            batch: false,
        };
        assert_eq!(
            p.upstream_url("http://m/", &embed).unwrap(),
            "http://m/v1/projects/cfg-proj/locations/global/publishers/google/models/e:embedContent"
        );
        let batch = Endpoint::GeminiEmbed {
            version: "v1",
            model: "e",
            batch: true,
        };
        let err = p.upstream_url("http://m/", &batch).unwrap_err().to_string();
        assert!(err.contains("batchEmbedContents"), "{err}");
        let eu = Vertex::new(&settings(None, Some("europe-west4")));
        assert_eq!(
            eu.default_base_url(),
            "https://europe-west4-aiplatform.googleapis.com"
        );
    }

    #[test]
    fn settings_are_validated_and_stored_without_defaults() {
        assert!(
            settings(Some("my-proj-1"), Some("us-east5"))
                .validate()
                .is_ok()
        );
        assert_eq!(
            settings(Some("My Proj"), None).validate().unwrap_err().0,
            "project"
        );
        assert_eq!(
            settings(None, Some("us/central")).validate().unwrap_err().0,
            "location"
        );
        assert!(Vertex::from_settings(&serde_json::json!({"region": "x"})).is_err());
        assert_eq!(
            serde_json::to_value(VertexSettings::default()).unwrap(),
            serde_json::json!({})
        );
    }

    #[test]
    fn vertex_sends_only_an_access_token() {
        let p = Vertex::default();
        let mut headers = HeaderMap::new();
        let token = Credential::AccessToken {
            token: Secret::new("ya29.t".into()),
        };
        p.apply_auth(&token, &mut headers).unwrap();
        assert_eq!(headers["authorization"], "Bearer ya29.t");
        assert!(headers["authorization"].is_sensitive());
        let err = p
            .apply_auth(&service_account("p"), &mut HeaderMap::new())
            .unwrap_err();
        assert!(!err.to_string().contains("PRIVATE"));
    }

    #[test]
    fn express_urls_have_no_project() {
        let p = VertexExpress;
        assert_eq!(
            p.upstream_url(VERTEX_GLOBAL_BASE, &GEN).unwrap(),
            "https://aiplatform.googleapis.com/v1/publishers/google/models/gemini-2.5-flash:generateContent"
        );
        assert_eq!(
            p.upstream_url("http://m", &STREAM).unwrap(),
            "http://m/v1/publishers/google/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
        );
    }
}
