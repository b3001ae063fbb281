//! Complete Gemini responses ↔ canonical [`Response`].

use std::collections::HashMap;

use super::super::common::id_or_generated;
use super::super::{ConvertError, FinishReason, Part, Response, generated_id};
use super::parts::{CallTracker, EncodeCtx, decode_parts, encode_parts};
use super::wire::{Candidate, Content, GenerateContentResponse};
use super::{finish_from_wire, finish_to_wire, usage_from_wire, usage_to_wire};

pub(in super::super) fn decode_response(body: &[u8]) -> Result<Response, ConvertError> {
    let wire: GenerateContentResponse =
        serde_json::from_slice(body).map_err(|e| ConvertError::json("Gemini response", &e))?;
    if let Some(err) = &wire.error {
        return Err(ConvertError::Invalid(format!(
            "Gemini error response: {}",
            error_message(err)
        )));
    }
    let id = match wire.response_id.filter(|id| !id.is_empty()) {
        Some(id) => id,
        None => generated_id(""),
    };
    let mut resp = Response {
        model: wire.model_version.unwrap_or_default(),
        usage: wire.usage_metadata.as_ref().map(usage_from_wire),
        ..Response::default()
    };
    let candidate = first_candidate(wire.candidates);
    match candidate {
        Some(c) => {
            let parts = c.content.map(|c| c.parts).unwrap_or_default();
            let mut calls = CallTracker::default();
            let mut n = 0usize;
            let mut derive = |_: &str| {
                let call = format!("call_{id}_{n}");
                n += 1;
                call
            };
            resp.content = decode_parts(parts, &mut calls, &mut derive)?;
            let has_calls = resp
                .content
                .iter()
                .any(|p| matches!(p, Part::ToolCall { .. }));
            resp.finish = c
                .finish_reason
                .as_deref()
                .and_then(|r| finish_from_wire(r, has_calls));
        }
        None => {
            if wire
                .prompt_feedback
                .is_some_and(|f| f.block_reason.is_some())
            {
                resp.finish = Some(FinishReason::ContentFilter);
            }
        }
    }
    resp.id = id;
    Ok(resp)
}

/// The candidate with index 0 (or the first one).
pub(super) fn first_candidate(candidates: Vec<Candidate>) -> Option<Candidate> {
    let at = candidates
        .iter()
        .position(|c| c.index.unwrap_or(0) == 0)
        .unwrap_or(0);
    candidates.into_iter().nth(at)
}

/// The message of an in-band error object (`{"code","message","status"}`).
pub(super) fn error_message(err: &serde_json::Value) -> String {
    match err.get("message").and_then(serde_json::Value::as_str) {
        Some(m) => m.to_owned(),
        None => err.to_string(),
    }
}

pub(in super::super) fn encode_response(resp: &Response) -> Result<Vec<u8>, ConvertError> {
    let names = HashMap::new();
    let ctx = EncodeCtx {
        with_ids: true,
        names: &names,
    };
    let parts = encode_parts(&resp.content, &ctx)?;
    let id = id_or_generated(&resp.id, "");
    let wire = GenerateContentResponse {
        candidates: vec![Candidate {
            content: (!parts.is_empty()).then(|| Content {
                role: Some("model".into()),
                parts,
            }),
            finish_reason: resp.finish.as_ref().map(finish_to_wire),
            index: Some(0),
        }],
        usage_metadata: resp.usage.as_ref().map(usage_to_wire),
        model_version: Some(resp.model.clone()),
        response_id: Some(id),
        ..GenerateContentResponse::default()
    };
    serde_json::to_vec(&wire).map_err(|e| ConvertError::json("Gemini response", &e))
}
