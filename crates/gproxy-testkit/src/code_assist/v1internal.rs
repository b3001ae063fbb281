//! Code Assist's `v1internal` methods, each behind a live bearer of the
//! Google OAuth mock and the user agent of the token's tool
//! (`GeminiCLI…` or `antigravity…`; anything else is 403
//! `PERMISSION_DENIED`, the mock's stand-in for the host telling clients
//! apart):
//!
//! - `loadCodeAssist` (`metadata` required): per [`ProjectMode`] a current
//!   tier and project, tiers to onboard, or `ineligibleTiers`.
//! - `onboardUser` (`tierId`/`tier_id` and `metadata` required; 400
//!   `FAILED_PRECONDITION` for `free-tier` with a `cloudaicompanionProject`):
//!   a long-running operation, `done:false` the first N calls (posts and
//!   `GET /v1internal/{name}` polls), then `done:true` with
//!   `response.cloudaicompanionProject.{id,name}`.
//! - `generateContent`, `streamGenerateContent` (`?alt=sse`: SSE, else a
//!   JSON array): the envelope `{model, project, user_prompt_id, request}`
//!   (antigravity also `userAgent: "antigravity"`, `requestType`,
//!   `requestId`); unknown top-level fields, a `request.store`, role-less
//!   contents are 400 `INVALID_ARGUMENT`; a project other than the
//!   account's is 403 `CONSUMER_INVALID`; a banned account 403 (Terms of
//!   Service), one needing verification 403 `VALIDATION_REQUIRED`; an
//!   exhausted model 429 `RESOURCE_EXHAUSTED` / `QUOTA_EXHAUSTED` with
//!   `RetryInfo` and `quotaResetDelay`. Answers are Gemini answers wrapped
//!   in `{response, traceId}`, every SSE `data:` line too.
//! - `countTokens`: only `{request: {model: "models/<id>", contents}}`;
//!   answers `{totalTokens}`.
//! - `retrieveUserQuota` (`{project}` of the account): `{buckets}`;
//!   `fetchAvailableModels`: `{models: {id: {displayName, maxTokens,
//!   quotaInfo}}}`.

use http::{HeaderValue, Response, StatusCode, header};
use serde_json::{Map, Value, json};

use super::{CodeAssistClient, ProjectMode, TOS_MESSAGE, authenticate, unauthenticated};
use crate::body::MockBody;
use crate::claude_oauth::iso8601;
use crate::fault::{gemini_error, json_response};
use crate::gemini::response_chunk;
use crate::server::{MockRequest, Reply, json_ok, sse_data, sse_response, unix_now};
use crate::{Shared, lock, mock_token_count, usage};

/// Models `retrieveUserQuota` reports buckets for.
const QUOTA_MODELS: &[&str] = &[
    "gemini-2.5-pro",
    "gemini-2.5-flash",
    "gemini-2.5-flash-lite",
];

/// Models `fetchAvailableModels` lists (plus one internal id).
const AVAILABLE_MODELS: &[(&str, &str)] = &[
    ("gemini-3-flash", "Gemini 3 Flash"),
    ("gemini-3.1-pro-low", "Gemini 3.1 Pro (Low)"),
    ("claude-sonnet-4-6", "Claude Sonnet 4.6"),
];

/// Top-level envelope fields Code Assist knows.
const ENVELOPE_FIELDS: &[&str] = &[
    "model",
    "project",
    "user_prompt_id",
    "request",
    "enabled_credit_types",
    "enabledCreditTypes",
    "userAgent",
    "requestType",
    "requestId",
];

fn invalid(message: &str) -> Response<MockBody> {
    gemini_error(StatusCode::BAD_REQUEST, "INVALID_ARGUMENT", message)
}

fn unknown_field(name: &str, at: &str) -> Response<MockBody> {
    invalid(&format!(
        "Invalid JSON payload received. Unknown name \"{name}\"{at}: Cannot find field."
    ))
}

/// A Google error with `details`.
fn detailed(status: StatusCode, state: &str, message: &str, details: Value) -> Response<MockBody> {
    json_response(
        status,
        &json!({ "error": {
            "code": status.as_u16(), "message": message, "status": state, "details": details
        }}),
    )
}

fn wrong_project(project: &str) -> Response<MockBody> {
    detailed(
        StatusCode::FORBIDDEN,
        "PERMISSION_DENIED",
        &format!("Permission denied on resource project {project}."),
        json!([{
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": "CONSUMER_INVALID",
            "domain": "googleapis.com",
            "metadata": { "consumer": format!("projects/{project}"), "service": "cloudcode-pa.googleapis.com" }
        }]),
    )
}

/// `POST /v1internal:{method}`.
pub(crate) fn method(
    shared: &Shared,
    req: &MockRequest,
    reply: &Reply,
    name: &str,
) -> Response<MockBody> {
    let Some((account, client)) = authenticate(shared, req) else {
        return unauthenticated();
    };
    if !req
        .header("user-agent")
        .is_some_and(|ua| ua.starts_with(client.user_agent_prefix()))
    {
        return gemini_error(
            StatusCode::FORBIDDEN,
            "PERMISSION_DENIED",
            "The caller does not have permission",
        );
    }
    let Some(Value::Object(body)) = req.json() else {
        return invalid("Invalid JSON payload received.");
    };
    match name {
        "loadCodeAssist" => load(shared, account, &body),
        "onboardUser" => onboard(shared, account, &body),
        "generateContent"
        | "streamGenerateContent"
        | "countTokens"
        | "retrieveUserQuota"
        | "fetchAvailableModels" => {
            if let Some(refusal) = account_refusal(shared, account) {
                return refusal;
            }
            match name {
                "countTokens" => count(req, &body),
                "retrieveUserQuota" => quota(shared, account, &body),
                "fetchAvailableModels" => models(shared, account),
                _ => generate(
                    shared,
                    req,
                    reply,
                    account,
                    client,
                    body,
                    name != "generateContent",
                ),
            }
        }
        _ => gemini_error(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            &format!("Method not found: v1internal:{name}"),
        ),
    }
}

/// A banned account, or one that must verify first.
fn account_refusal(shared: &Shared, account: usize) -> Option<Response<MockBody>> {
    let state = lock(&shared.code_assist);
    let a = &state.accounts[account];
    if a.banned {
        return Some(gemini_error(
            StatusCode::FORBIDDEN,
            "PERMISSION_DENIED",
            TOS_MESSAGE,
        ));
    }
    if a.validation_required {
        let link = "https://accounts.google.com/signin/continue?mock=validation";
        return Some(detailed(
            StatusCode::FORBIDDEN,
            "PERMISSION_DENIED",
            "Verify your account to continue.",
            json!([
                {
                    "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                    "reason": "VALIDATION_REQUIRED",
                    "domain": "cloudcode-pa.googleapis.com",
                    "metadata": { "validation_link": link }
                },
                {
                    "@type": "type.googleapis.com/google.rpc.Help",
                    "links": [{ "description": "Verify your account", "url": link }]
                }
            ]),
        ));
    }
    None
}

fn tier(id: &str) -> Value {
    json!({
        "id": id,
        "name": match id {
            "free-tier" => "Gemini Code Assist for individuals",
            "standard-tier" => "Gemini Code Assist Standard",
            _ => "Gemini Code Assist",
        },
        "description": "Mock tier.",
        "userDefinedCloudaicompanionProject": id != "free-tier",
        "isDefault": true,
    })
}

/// `loadCodeAssist`.
fn load(shared: &Shared, account: usize, body: &Map<String, Value>) -> Response<MockBody> {
    if !body.get("metadata").is_some_and(Value::is_object) {
        return invalid("metadata is required");
    }
    let mut state = lock(&shared.code_assist);
    state.load_calls += 1;
    let a = &state.accounts[account];
    let answer = match (&a.mode, a.project()) {
        (
            ProjectMode::Ineligible {
                reason_code,
                message,
            },
            _,
        ) => json!({
            "ineligibleTiers": [{
                "reasonCode": reason_code, "reasonMessage": message,
                "tierId": "free-tier", "tierName": "Gemini Code Assist for individuals"
            }]
        }),
        (ProjectMode::Assigned(project), _) => json!({
            "currentTier": tier("standard-tier"),
            "allowedTiers": [tier("standard-tier")],
            "cloudaicompanionProject": project,
        }),
        (ProjectMode::Onboard { tier: id, .. }, Some(project)) => json!({
            "currentTier": tier(id),
            "allowedTiers": [tier(id)],
            "cloudaicompanionProject": project,
        }),
        (ProjectMode::Onboard { tier: id, .. }, None) => json!({ "allowedTiers": [tier(id)] }),
    };
    json_response(StatusCode::OK, &answer)
}

/// `onboardUser`.
fn onboard(shared: &Shared, account: usize, body: &Map<String, Value>) -> Response<MockBody> {
    let text = |camel: &str, snake: &str| {
        body.get(camel)
            .or_else(|| body.get(snake))
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    let Some(tier_id) = text("tierId", "tier_id") else {
        return invalid("tierId is required");
    };
    if !body.get("metadata").is_some_and(Value::is_object) {
        return invalid("metadata is required");
    }
    let project = text("cloudaicompanionProject", "cloudaicompanion_project");
    if tier_id == "free-tier" && project.is_some() {
        return gemini_error(
            StatusCode::BAD_REQUEST,
            "FAILED_PRECONDITION",
            "Precondition check failed.",
        );
    }
    let mut state = lock(&shared.code_assist);
    match &state.accounts[account].mode {
        ProjectMode::Ineligible { message, .. } => {
            return gemini_error(StatusCode::FORBIDDEN, "PERMISSION_DENIED", message);
        }
        ProjectMode::Onboard { tier, .. } if tier != tier_id => {
            return invalid(&format!("Tier {tier_id} is not allowed for this user."));
        }
        _ => {}
    }
    let chosen = project.map(str::to_owned);
    advance(&mut state, account, chosen)
}

/// One onboarding call (a post or a poll): not done for the first `polls`
/// calls, then done with the project.
fn advance(
    state: &mut super::CodeAssistState,
    account: usize,
    chosen: Option<String>,
) -> Response<MockBody> {
    state.onboard_calls += 1;
    let name = format!("operations/onboard-{account}");
    let a = &mut state.accounts[account];
    a.onboard_attempts += 1;
    let project = match &a.mode {
        ProjectMode::Assigned(p) => p.clone(),
        ProjectMode::Onboard { polls, .. } => {
            if a.onboard_attempts <= *polls {
                return json_response(StatusCode::OK, &json!({ "name": name, "done": false }));
            }
            a.onboarded
                .get_or_insert_with(|| {
                    chosen.unwrap_or_else(|| format!("mock-onboarded-{}", account + 1))
                })
                .clone()
        }
        ProjectMode::Ineligible { .. } => {
            return gemini_error(StatusCode::FORBIDDEN, "PERMISSION_DENIED", "Not eligible.");
        }
    };
    json_response(
        StatusCode::OK,
        &json!({
            "name": name,
            "done": true,
            "response": {
                "@type": "type.googleapis.com/google.internal.cloud.code.v1internal.OnboardUserResponse",
                "cloudaicompanionProject": { "id": project, "name": project }
            }
        }),
    )
}

/// `GET /v1internal/operations/onboard-<n>`.
pub(crate) fn poll(shared: &Shared, req: &MockRequest, _reply: &Reply) -> Response<MockBody> {
    let Some((account, _)) = authenticate(shared, req) else {
        return unauthenticated();
    };
    let name = req.path.strip_prefix("/v1internal/").unwrap_or_default();
    if name != format!("operations/onboard-{account}") {
        return gemini_error(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            "Requested entity was not found.",
        );
    }
    let mut state = lock(&shared.code_assist);
    advance(&mut state, account, None)
}

/// `2h3m4s` of seconds.
fn human(secs: u64) -> String {
    let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
    match (h, m) {
        (0, 0) => format!("{s}s"),
        (0, _) => format!("{m}m{s}s"),
        _ => format!("{h}h{m}m{s}s"),
    }
}

fn exhausted(model: &str, reset: u64) -> Response<MockBody> {
    let secs = reset.saturating_sub(unix_now());
    detailed(
        StatusCode::TOO_MANY_REQUESTS,
        "RESOURCE_EXHAUSTED",
        &format!(
            "You have exhausted your capacity on this model. Your quota will reset after {}.",
            human(secs)
        ),
        json!([
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "QUOTA_EXHAUSTED",
                "domain": "cloudcode-pa.googleapis.com",
                "metadata": {
                    "uiMessage": "true",
                    "model": model,
                    "quotaResetDelay": format!("{secs}s"),
                    "quotaResetTimeStamp": iso8601(reset),
                }
            },
            {
                "@type": "type.googleapis.com/google.rpc.RetryInfo",
                "retryDelay": format!("{secs}.000000000s")
            }
        ]),
    )
}

/// Checks the generate envelope; the refusal when it is wrong.
fn envelope_refusal(
    project: Option<&str>,
    client: CodeAssistClient,
    body: &Map<String, Value>,
) -> Option<Response<MockBody>> {
    if let Some(unknown) = body.keys().find(|k| !ENVELOPE_FIELDS.contains(&k.as_str())) {
        return Some(unknown_field(unknown, ""));
    }
    let text = |name: &str| {
        body.get(name)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    if text("model").is_none() {
        return Some(invalid("model is required."));
    }
    let Some(sent) = text("project") else {
        return Some(invalid("project is required."));
    };
    if project != Some(sent) {
        return Some(wrong_project(sent));
    }
    if text("user_prompt_id").is_none() {
        return Some(invalid("user_prompt_id is required."));
    }
    if client == CodeAssistClient::Antigravity
        && (text("userAgent") != Some("antigravity")
            || text("requestType").is_none()
            || text("requestId").is_none())
    {
        return Some(invalid(
            "userAgent \"antigravity\", requestType and requestId are required.",
        ));
    }
    let Some(Value::Object(request)) = body.get("request") else {
        return Some(invalid("request is required."));
    };
    if request.contains_key("store") {
        return Some(unknown_field("store", " at 'request'"));
    }
    let Some(Value::Array(contents)) = request
        .get("contents")
        .filter(|c| c.as_array().is_some_and(|a| !a.is_empty()))
    else {
        return Some(invalid(
            "* GenerateContentRequest.contents: contents is not specified\n",
        ));
    };
    if contents.iter().any(|c| {
        !matches!(
            c.get("role").and_then(Value::as_str),
            Some("user" | "model")
        )
    }) {
        return Some(invalid("Please use a valid role: user, model."));
    }
    if let Some(message) = crate::rules::gemini(&Value::Object(request.clone())) {
        return Some(invalid(&message));
    }
    None
}

fn wrapped(chunk: Value, reply: &Reply) -> Value {
    json!({ "response": chunk, "traceId": format!("{:016x}", reply.id) })
}

/// `generateContent` / `streamGenerateContent`.
fn generate(
    shared: &Shared,
    req: &MockRequest,
    reply: &Reply,
    account: usize,
    client: CodeAssistClient,
    body: Map<String, Value>,
    streaming: bool,
) -> Response<MockBody> {
    let model = {
        let mut state = lock(&shared.code_assist);
        let project = state.accounts[account].project().map(str::to_owned);
        if let Some(refusal) = envelope_refusal(project.as_deref(), client, &body) {
            return refusal;
        }
        let model = body["model"].as_str().unwrap_or_default().to_owned();
        state.generate_calls += 1;
        state.last_envelope = Some(Value::Object(body));
        if let Some(reset) = state.exhausted_until(account, &model) {
            return exhausted(&model, reset);
        }
        model
    };
    let id = format!("mock{:016x}", reply.id);
    let deltas = reply.deltas(&model);
    if !streaming {
        let whole = response_chunk(&deltas.concat(), true, usage::OUTPUT, &model, &id);
        return json_ok(reply, &wrapped(whole, reply));
    }
    let n = deltas.len() as u64;
    let chunks = deltas.iter().enumerate().map(|(i, text)| {
        let done = i as u64 + 1;
        let candidates = usage::OUTPUT * done / n;
        let chunk = response_chunk(text, done == n, candidates, &model, &id);
        (i, wrapped(chunk, reply))
    });
    let mut out = MockBody::stream(reply.delay);
    if req.query_param("alt") == Some("sse") {
        for (i, chunk) in chunks {
            out.push(sse_data(&chunk, b"\r\n\r\n"), i > 0);
        }
        return sse_response(reply.finish(out));
    }
    for (i, chunk) in chunks {
        let mut element = Vec::with_capacity(256);
        element.extend_from_slice(if i == 0 { b"[" } else { b"\n,\r\n" });
        let _ = serde_json::to_writer(&mut element, &chunk);
        out.push(element, i > 0);
    }
    out.push(&b"\n]"[..], false);
    let mut response = Response::new(reply.finish(out));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=UTF-8"),
    );
    response
}

/// `countTokens`.
fn count(req: &MockRequest, body: &Map<String, Value>) -> Response<MockBody> {
    if let Some(unknown) = body.keys().find(|k| *k != "request") {
        return unknown_field(unknown, "");
    }
    let request = body.get("request").and_then(Value::as_object);
    let model_ok = request
        .and_then(|r| r.get("model"))
        .and_then(Value::as_str)
        .is_some_and(|m| m.len() > "models/".len() && m.starts_with("models/"));
    if !model_ok {
        return invalid("request.model must be models/{model}.");
    }
    let has_contents = request
        .and_then(|r| r.get("contents"))
        .and_then(Value::as_array)
        .is_some_and(|c| !c.is_empty());
    if !has_contents {
        return invalid("* CountTokensRequest.contents: contents is not specified\n");
    }
    json_response(
        StatusCode::OK,
        &json!({ "totalTokens": mock_token_count(&req.body) }),
    )
}

/// `{remainingFraction, resetTime}` of `model` for `account`.
fn remaining(state: &super::CodeAssistState, account: usize, model: &str) -> (f64, u64) {
    match state.exhausted_until(account, model) {
        Some(reset) => (0.0, reset),
        None => (0.75, unix_now() + 86_400),
    }
}

/// `retrieveUserQuota`.
fn quota(shared: &Shared, account: usize, body: &Map<String, Value>) -> Response<MockBody> {
    let state = lock(&shared.code_assist);
    let project = state.accounts[account].project();
    let sent = body
        .get("project")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if project != Some(sent) {
        return wrong_project(sent);
    }
    let buckets: Vec<Value> = QUOTA_MODELS
        .iter()
        .map(|model| {
            let (fraction, reset) = remaining(&state, account, model);
            json!({
                "modelId": model,
                "tokenType": "REQUESTS",
                "remainingFraction": fraction,
                "remainingAmount": format!("{}", (fraction * 1000.0) as u64),
                "resetTime": iso8601(reset),
            })
        })
        .collect();
    json_response(StatusCode::OK, &json!({ "buckets": buckets }))
}

/// `fetchAvailableModels`.
fn models(shared: &Shared, account: usize) -> Response<MockBody> {
    let state = lock(&shared.code_assist);
    let mut models = Map::new();
    for (id, name) in AVAILABLE_MODELS {
        let (fraction, reset) = remaining(&state, account, id);
        models.insert(
            (*id).to_owned(),
            json!({
                "displayName": name,
                "maxTokens": 1_048_576,
                "maxOutputTokens": 65_536,
                "quotaInfo": { "remainingFraction": fraction, "resetTime": iso8601(reset) }
            }),
        );
    }
    models.insert(
        "chat_20706".into(),
        json!({ "displayName": "internal", "maxTokens": 8192 }),
    );
    json_response(
        StatusCode::OK,
        &json!({ "models": models, "defaultAgentModelId": "gemini-3-flash" }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_durations() {
        assert_eq!(human(4), "4s");
        assert_eq!(human(64), "1m4s");
        assert_eq!(human(7384), "2h3m4s");
    }
}
