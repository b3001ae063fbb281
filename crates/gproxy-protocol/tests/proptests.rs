//! Property tests: parsers never panic, chunking never changes the result.
#![cfg(test)]

use gproxy_protocol::Protocol;
use gproxy_protocol::json_array::JsonArraySplitter;
use gproxy_protocol::json_edit::{RawObject, prefix_model};
use gproxy_protocol::json_mask::JsonMask;
use gproxy_protocol::sse::{self, SseDecoder, SseEvent};
use gproxy_protocol::usage::{StreamUsageTracker, from_response_body};
use proptest::prelude::*;

/// Splits `input` at the given (unsorted, possibly out of range) cut points.
fn chunked<'a>(input: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (input.len() + 1)).collect();
    cuts.sort_unstable();
    let mut chunks = Vec::new();
    let mut start = 0;
    for cut in cuts {
        chunks.push(&input[start..cut]);
        start = cut;
    }
    chunks.push(&input[start..]);
    chunks
}

fn decode(chunks: &[&[u8]]) -> Vec<SseEvent> {
    let mut decoder = SseDecoder::new();
    let mut out = Vec::new();
    for chunk in chunks {
        decoder.feed(chunk, &mut out).unwrap();
    }
    out.extend(decoder.finish());
    out
}

/// Text without CR (which the decoder turns into LF) and, for single-line
/// fields, without LF or NUL.
fn line_text() -> impl Strategy<Value = String> {
    "[^\r\n\u{0}]{0,12}"
}

fn sse_event() -> impl Strategy<Value = SseEvent> {
    (
        proptest::option::of(line_text()),
        "[^\r]{0,40}",
        proptest::option::of(line_text()),
        proptest::option::of(any::<u64>()),
    )
        .prop_map(|(event, data, id, retry)| SseEvent {
            event,
            data,
            id,
            retry,
        })
}

proptest! {
    #[test]
    fn sse_decoder_never_panics(input in proptest::collection::vec(any::<u8>(), 0..512),
                                cuts in proptest::collection::vec(any::<usize>(), 0..8)) {
        let events = decode(&chunked(&input, &cuts));
        prop_assert_eq!(events, decode(&[&input]));
    }

    #[test]
    fn sse_encode_decode_round_trip(events in proptest::collection::vec(sse_event(), 0..8),
                                    cuts in proptest::collection::vec(any::<usize>(), 0..10)) {
        let mut wire = Vec::new();
        for event in &events {
            sse::encode(event, &mut wire);
        }
        prop_assert_eq!(&decode(&[&wire]), &events);
        prop_assert_eq!(&decode(&chunked(&wire, &cuts)), &events);
    }

    #[test]
    fn json_array_splitter_never_panics(input in proptest::collection::vec(any::<u8>(), 0..512),
                                        cuts in proptest::collection::vec(any::<usize>(), 0..8)) {
        let mut splitter = JsonArraySplitter::new();
        let mut out = Vec::new();
        for chunk in chunked(&input, &cuts) {
            splitter.feed(chunk, &mut out).unwrap();
        }
        let mut whole = Vec::new();
        JsonArraySplitter::new().feed(&input, &mut whole).unwrap();
        prop_assert_eq!(out, whole);
    }

    #[test]
    fn json_array_splitter_recovers_elements(values in proptest::collection::vec(json_value(), 0..6),
                                             cuts in proptest::collection::vec(any::<usize>(), 0..8),
                                             pretty in any::<bool>()) {
        let array = serde_json::Value::Array(values.clone());
        let text = if pretty {
            serde_json::to_vec_pretty(&array).unwrap()
        } else {
            serde_json::to_vec(&array).unwrap()
        };
        let mut splitter = JsonArraySplitter::new();
        let mut out = Vec::new();
        for chunk in chunked(&text, &cuts) {
            splitter.feed(chunk, &mut out).unwrap();
        }
        let parsed: Vec<serde_json::Value> =
            out.iter().map(|e| serde_json::from_slice(e).unwrap()).collect();
        prop_assert_eq!(parsed, values);
    }

    #[test]
    fn json_edit_and_usage_never_panic(input in proptest::collection::vec(any::<u8>(), 0..256)) {
        if let Ok(mut object) = RawObject::parse(&input) {
            object.set_str("model", "x");
            let out = object.to_vec();
            prop_assert!(serde_json::from_slice::<serde_json::Value>(&out).is_ok());
        }
        let _ = prefix_model(&input, "p");
        for protocol in Protocol::ALL {
            let _ = from_response_body(protocol, &input);
            let mut tracker = StreamUsageTracker::new(protocol);
            tracker.observe_json(&input);
        }
    }

    #[test]
    fn raw_object_round_trip(value in json_object()) {
        let text = serde_json::to_vec_pretty(&value).unwrap();
        let object = RawObject::parse(&text).unwrap();
        let out: serde_json::Value = serde_json::from_slice(&object.to_vec()).unwrap();
        prop_assert_eq!(out, value);
    }

    #[test]
    fn model_prefix_matches_a_parsed_edit(
        mut value in json_object(),
        model in prop_oneof![Just(None), any::<String>().prop_map(Some)],
        pretty in any::<bool>(),
    ) {
        if let Some(model) = &model {
            value["model"] = serde_json::Value::String(model.clone());
        }
        let text = if pretty {
            serde_json::to_vec_pretty(&value).unwrap()
        } else {
            serde_json::to_vec(&value).unwrap()
        };
        let out = prefix_model(&text, "p").unwrap();
        match value.get("model").and_then(|m| m.as_str()) {
            Some(m) => {
                let mut expected = value.clone();
                expected["model"] = serde_json::Value::String(format!("p/{m}"));
                let out: serde_json::Value = serde_json::from_slice(&out.unwrap()).unwrap();
                prop_assert_eq!(out, expected);
            }
            None if value.get("message").is_none() && value.get("response").is_none() => {
                prop_assert_eq!(out, None);
            }
            None => {}
        }
    }
}

/// Mask paths built from the characters the path syntax cares about.
fn mask_path() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-c0-2*.\\[\\]\"/~\\\\]{0,10}",
        "(/[a-c0-2*~]{0,3}){1,4}",
        "[a-c*]{1,2}((\\.[a-c*]{1,2})|(\\[[0-2*]\\])){0,3}",
    ]
}

proptest! {
    #[test]
    fn json_mask_parse_and_apply_never_panic(
        paths in proptest::collection::vec(mask_path(), 0..4),
        input in proptest::collection::vec(any::<u8>(), 0..256),
    ) {
        if let Ok(mask) = JsonMask::parse(&paths) {
            let _ = mask.apply(&input);
        }
    }

    #[test]
    fn json_mask_output_is_json_with_the_paths_null(
        paths in proptest::collection::vec(mask_path(), 0..4),
        value in prop_oneof![json_object(), json_value()],
    ) {
        let Ok(mask) = JsonMask::parse(&paths) else { return Ok(()); };
        let body = serde_json::to_vec(&value).unwrap();
        if let Some(out) = mask.apply(&body) {
            let out: serde_json::Value = serde_json::from_slice(&out).unwrap();
            // Masking is idempotent: a second pass changes nothing.
            prop_assert_eq!(mask.apply(&serde_json::to_vec(&out).unwrap()), None);
        }
    }
}

proptest! {
    /// A mask naming one existing top-level key nulls exactly that key:
    /// every other top-level value comes out byte for byte as it went in.
    #[test]
    fn json_mask_nulls_the_named_key_and_keeps_the_rest(
        value in json_object(),
        pick in any::<prop::sample::Index>(),
    ) {
        let object = value.as_object().unwrap();
        if object.is_empty() {
            return Ok(());
        }
        let key = object.keys().nth(pick.index(object.len())).unwrap().clone();
        // A JSON Pointer names any key, whatever characters it holds.
        let pointer = format!("/{}", key.replace('~', "~0").replace('/', "~1"));
        let mask = JsonMask::parse(std::slice::from_ref(&pointer)).unwrap();
        let body = serde_json::to_vec_pretty(&value).unwrap();
        let out = mask.apply(&body);
        let out: serde_json::Value = match out {
            Some(out) => serde_json::from_slice(&out).unwrap(),
            None => {
                // Nothing changed: the value was null already.
                prop_assert_eq!(&object[&key], &serde_json::Value::Null);
                return Ok(());
            }
        };
        let out = out.as_object().unwrap();
        prop_assert_eq!(out.len(), object.len());
        for (k, v) in object {
            if *k == key {
                prop_assert_eq!(&out[k], &serde_json::Value::Null);
            } else {
                prop_assert_eq!(&out[k], v);
            }
        }
        let raw_in = RawObject::parse(&body).unwrap();
        let masked = mask.apply(&body).unwrap();
        let raw_out = RawObject::parse(&masked).unwrap();
        for k in raw_in.keys().filter(|k| *k != key) {
            prop_assert_eq!(raw_in.get(k).unwrap().get(), raw_out.get(k).unwrap().get());
        }
    }

    /// The in-stream error detector reads any event without panicking,
    /// and whatever it calls an error carries an error status and a body
    /// with a message in the usual error shape.
    #[test]
    fn first_event_errors_never_panic(
        data in "(\\{\"(error|type|code|message|status)\":|[\\[\\]{},:\" a-z0-9])*",
        named in any::<bool>(),
    ) {
        for protocol in Protocol::ALL {
            let event = named.then_some("error");
            if let Some(e) = gproxy_protocol::stream_error::first_event_error(protocol, event, &data) {
                prop_assert!((400..=599).contains(&e.status));
                prop_assert!(serde_json::from_slice::<serde_json::Value>(&e.body).is_ok());
            }
        }
    }
}

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::Bool),
        any::<i64>().prop_map(serde_json::Value::from),
        "[\\[\\]{}\",\\\\ a-z\u{4e00}-\u{4e10}\u{1F980}\n\t]{0,10}"
            .prop_map(serde_json::Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::Array),
            proptest::collection::btree_map("[a-z\"\\\\\n]{0,4}", inner, 0..4)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

fn json_object() -> impl Strategy<Value = serde_json::Value> {
    proptest::collection::btree_map("[a-z\"\\\\\n\u{0}-\u{1f}é]{0,6}", json_value(), 0..6)
        .prop_map(|m| serde_json::Value::Object(m.into_iter().collect()))
}
