//! Unit tests for usage extraction; full transcripts live in `tests/usage.rs`.

use super::*;

fn usage(input: u64, output: u64, read: u64, write: u64, reasoning: u64) -> Usage {
    Usage {
        input_tokens: input,
        output_tokens: output,
        cache_read_tokens: read,
        cache_write_tokens: write,
        cache_write_1h_tokens: 0,
        reasoning_tokens: reasoning,
    }
}

#[test]
fn non_json_or_absent_is_none() {
    for protocol in Protocol::ALL {
        assert_eq!(from_response_body(protocol, b"not json"), None);
        assert_eq!(from_response_body(protocol, b""), None);
        assert_eq!(from_response_body(protocol, b"{\"id\":\"x\"}"), None);
        assert_eq!(from_response_body(protocol, b"{\"usage\":null}"), None);
        assert_eq!(from_response_body(protocol, b"[1,2]"), None);
    }
}

#[test]
fn chat_tolerates_nulls_and_missing_details() {
    let body = br#"{"usage":{"prompt_tokens":10,"completion_tokens":null,"prompt_tokens_details":null,"completion_tokens_details":{"reasoning_tokens":3}}}"#;
    assert_eq!(
        from_response_body(Protocol::OpenAiChat, body),
        Some(usage(10, 0, 0, 0, 3))
    );
    // OpenAI-compatible upstreams sometimes send floats or numeric strings.
    let body = br#"{"usage":{"prompt_tokens":10.0,"completion_tokens":"7","total_tokens":17}}"#;
    assert_eq!(
        from_response_body(Protocol::OpenAiChat, body),
        Some(usage(10, 7, 0, 0, 0))
    );
    let body = br#"{"usage":{"prompt_tokens":-1,"completion_tokens":{"x":1},"prompt_tokens_details":{"cached_tokens":[1]}}}"#;
    assert_eq!(
        from_response_body(Protocol::OpenAiChat, body),
        Some(usage(0, 0, 0, 0, 0))
    );
}

#[test]
fn gemini_array_body_last_usage_wins() {
    let body = br#"[{"usageMetadata":{"promptTokenCount":1,"candidatesTokenCount":1}},{"usageMetadata":{"promptTokenCount":1,"candidatesTokenCount":5}},{"candidates":[]}]"#;
    assert_eq!(
        from_response_body(Protocol::Gemini, body),
        Some(usage(1, 5, 0, 0, 0))
    );
}

#[test]
fn tracker_skips_chunks_without_usage() {
    let mut tracker = StreamUsageTracker::new(Protocol::OpenAiChat);
    // The answer says whether the chunk had a non-null usage key.
    assert!(!tracker.observe_json(br#"{"choices":[{"delta":{"content":"hi"}}]}"#));
    assert!(!tracker.observe_json(b"[DONE]"));
    assert!(!tracker.observe_json(br#"{"choices":[],"usage" : null}"#));
    assert_eq!(tracker.usage(), None);
    assert!(
        tracker
            .observe_json(br#"{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":4}}"#)
    );
    assert_eq!(tracker.usage(), Some(usage(3, 4, 0, 0, 0)));
    // A later chunk without usage does not erase it.
    assert!(!tracker.observe_json(br#"{"choices":[],"usage":null}"#));
    assert!(tracker.observe_json(b"{\"usage"));
    assert_eq!(tracker.usage(), Some(usage(3, 4, 0, 0, 0)));
}

#[test]
fn claude_message_delta_overrides_only_present_fields() {
    let mut tracker = StreamUsageTracker::new(Protocol::Claude);
    // A delta before any start still counts.
    tracker.observe_json(br#"{"type":"message_delta","delta":{},"usage":{"output_tokens":1}}"#);
    assert_eq!(tracker.usage(), Some(usage(0, 1, 0, 0, 0)));
    tracker.observe_json(
        br#"{"type":"message_start","message":{"usage":{"input_tokens":10,"cache_read_input_tokens":5,"cache_creation_input_tokens":2,"output_tokens":1}}}"#,
    );
    assert_eq!(tracker.usage(), Some(usage(10, 1, 5, 2, 0)));
    tracker.observe_json(
        br#"{"type":"message_delta","delta":{"stop_reason":null},"usage":{"output_tokens":20}}"#,
    );
    assert_eq!(tracker.usage(), Some(usage(10, 20, 5, 2, 0)));
    tracker.observe_json(
        br#"{"type":"message_delta","delta":{},"usage":{"input_tokens":12,"cache_read_input_tokens":null,"output_tokens":30}}"#,
    );
    assert_eq!(tracker.usage(), Some(usage(12, 30, 5, 2, 0)));
    // The event type decides, not the presence of a usage key.
    tracker.observe_json(br#"{"type":"content_block_delta","usage":{"output_tokens":99}}"#);
    tracker.observe_json(br#"{"type":"message","usage":{"output_tokens":99}}"#);
    assert_eq!(tracker.usage(), Some(usage(12, 30, 5, 2, 0)));
}

#[test]
fn responses_events_with_null_usage_are_ignored() {
    let mut tracker = StreamUsageTracker::new(Protocol::OpenAiResponses);
    tracker.observe_json(br#"{"type":"response.created","response":{"usage":null}}"#);
    assert_eq!(tracker.usage(), None);
    tracker.observe_json(
        br#"{"type":"response.incomplete","response":{"status":"incomplete","usage":{"input_tokens":5,"output_tokens":6,"output_tokens_details":{"reasoning_tokens":2}}}}"#,
    );
    assert_eq!(tracker.usage(), Some(usage(5, 6, 0, 0, 2)));
}

#[test]
fn gemini_latest_chunk_wins() {
    let mut tracker = StreamUsageTracker::new(Protocol::Gemini);
    tracker.observe_json(br#"{"usageMetadata":{"promptTokenCount":4,"candidatesTokenCount":1,"thoughtsTokenCount":9}}"#);
    tracker.observe_json(br#"{"candidates":[]}"#);
    tracker.observe_json(br#"{"usageMetadata":{"promptTokenCount":4,"candidatesTokenCount":8,"cachedContentTokenCount":2}}"#);
    assert_eq!(tracker.usage(), Some(usage(4, 8, 2, 0, 0)));
}

#[test]
fn observe_event_uses_the_data() {
    let mut tracker = StreamUsageTracker::new(Protocol::Claude);
    tracker.observe_event(&SseEvent {
        event: Some("message_delta".into()),
        data: r#"{"type":"message_delta","usage":{"output_tokens":2}}"#.into(),
        ..SseEvent::default()
    });
    assert_eq!(tracker.usage(), Some(usage(0, 2, 0, 0, 0)));
}

#[test]
fn null_usage_keys_are_recognised_without_a_parse() {
    assert!(is_null_usage_key(b"\":null}"));
    assert!(is_null_usage_key(b"\" :\n\t null ,"));
    assert!(!is_null_usage_key(b"\":{\"prompt_tokens\":1}"));
    assert!(!is_null_usage_key(b"Metadata\":null"));
    assert!(!is_null_usage_key(b"\\\": null"));
    assert!(!is_null_usage_key(b"\""));
}

#[test]
fn a_real_usage_next_to_a_null_one_is_still_seen() {
    let mut tracker = StreamUsageTracker::new(Protocol::Claude);
    tracker.observe_json(
        br#"{"type":"message_start","usage":null,"message":{"usage":{"input_tokens":7}}}"#,
    );
    assert_eq!(tracker.usage(), Some(usage(7, 0, 0, 0, 0)));
    let mut tracker = StreamUsageTracker::new(Protocol::OpenAiChat);
    // Text that merely mentions `"usage": null` inside a string is parsed.
    tracker.observe_json(
        br#"{"choices":[{"delta":{"content":"\"usage\": null"}}],"usage":{"prompt_tokens":1,"completion_tokens":2}}"#,
    );
    assert_eq!(tracker.usage(), Some(usage(1, 2, 0, 0, 0)));
}

#[test]
fn claude_one_hour_cache_writes_are_kept_apart() {
    let body = br#"{"usage":{"input_tokens":10,"output_tokens":5,"cache_creation_input_tokens":300,
        "cache_creation":{"ephemeral_5m_input_tokens":100,"ephemeral_1h_input_tokens":200}}}"#;
    let u = from_response_body(Protocol::Claude, body).unwrap();
    assert_eq!((u.cache_write_tokens, u.cache_write_1h_tokens), (300, 200));
    let mut tracker = StreamUsageTracker::new(Protocol::Claude);
    tracker.observe_json(br#"{"type":"message_start","message":{"usage":{"input_tokens":10,"cache_creation_input_tokens":300,"cache_creation":{"ephemeral_1h_input_tokens":200}}}}"#);
    tracker.observe_json(br#"{"type":"message_delta","usage":{"output_tokens":7}}"#);
    let u = tracker.usage().unwrap();
    assert_eq!((u.cache_write_1h_tokens, u.output_tokens), (200, 7));
}

#[test]
fn usage_scan_reads_only_the_usage_value() {
    let body = br#"{"id":"c","choices":[{"message":{"content":"\"usage\": {\"prompt_tokens\": 9}"}}],"usage":{"prompt_tokens":3,"completion_tokens":4}}"#;
    let usage = from_response_body(Protocol::OpenAiChat, body).unwrap();
    assert_eq!((usage.input_tokens, usage.output_tokens), (3, 4));
    let spaced = b" { \"usage\" : { \"input_tokens\" : 5 , \"output_tokens\" : 6 } , \"type\" : \"message\" } ";
    let usage = from_response_body(Protocol::Claude, spaced).unwrap();
    assert_eq!((usage.input_tokens, usage.output_tokens), (5, 6));
    for none in [
        &br#"{"usage":null}"#[..],
        br#"{"id":"x"}"#,
        br#"{"usage":"many"}"#,
        br#"{"usage":{"prompt_tokens":1}"#,
        b"[DONE]",
        b"",
    ] {
        assert_eq!(from_response_body(Protocol::OpenAiChat, none), None);
    }
    // The usage value is read as text: other text in it, and invalid UTF-8
    // outside it (never parsed), leave the counts as they are; invalid
    // UTF-8 in one of its keys makes it unreadable, as it did from bytes.
    let text = "{\"usage\":{\"prompt_tokens\":3,\"n\u{f6}te\":\"\u{e9}\",\"completion_tokens\":4}}";
    let usage = from_response_body(Protocol::OpenAiChat, text.as_bytes()).unwrap();
    assert_eq!((usage.input_tokens, usage.output_tokens), (3, 4));
    let outside = b"{\"choices\":[{\"text\":\"\xFF\"}],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":4}}";
    let usage = from_response_body(Protocol::OpenAiChat, outside).unwrap();
    assert_eq!((usage.input_tokens, usage.output_tokens), (3, 4));
    let inside = b"{\"usage\":{\"prompt_tokens\":3,\"x\xFF\":1,\"completion_tokens\":4}}";
    assert_eq!(from_response_body(Protocol::OpenAiChat, inside), None);
    // A body the scan cannot read (an escaped key) is parsed in full.
    let escaped = br#"{"\u0069d":"x","usage":{"prompt_tokens":2,"completion_tokens":1}}"#;
    let usage = from_response_body(Protocol::OpenAiChat, escaped).unwrap();
    assert_eq!(usage.input_tokens, 2);
}

#[test]
fn a_chat_chunk_ending_in_a_null_usage_is_passed_over_from_its_end() {
    assert!(ends_with_null_usage(br#"{"choices":[],"usage":null}"#));
    assert!(ends_with_null_usage(b"{\"usage\" :\n null }\n"));
    assert!(ends_with_null_usage(br#"{"id":"c","usage": null}"#));
    // Not a null usage as the last top-level member.
    assert!(!ends_with_null_usage(
        br#"{"choices":[],"usage":{"prompt_tokens":1}}"#
    ));
    assert!(!ends_with_null_usage(br#"{"choices":[],"xusage":null}"#));
    assert!(!ends_with_null_usage(br#"{"a":"\"usage":null}"#));
    assert!(!ends_with_null_usage(br#"{"usage":null,"id":"c"}"#));
    assert!(!ends_with_null_usage(b"\"usage\":null}"));
    assert!(!ends_with_null_usage(b"[DONE]"));
    // A usage before a trailing null one is still parsed (serde refuses
    // the duplicate key; nothing is taken from such a chunk either way).
    let mut tracker = StreamUsageTracker::new(Protocol::OpenAiChat);
    assert!(!tracker.observe_json(br#"{"choices":[],"usage":null}"#));
    assert!(
        tracker.observe_json(br#"{"usage":{"prompt_tokens":2,"completion_tokens":3},"id":"c"}"#)
    );
    assert_eq!(tracker.usage(), Some(usage(2, 3, 0, 0, 0)));
}

#[test]
fn claude_text_deltas_are_passed_over_without_a_search() {
    let mut tracker = StreamUsageTracker::new(Protocol::Claude);
    assert!(!tracker.observe_json(
        br#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"\"usage\":{}"}}"#
    ));
    assert!(
        tracker.observe_json(br#"{"type":"message_delta","delta":{},"usage":{"output_tokens":4}}"#)
    );
    assert_eq!(tracker.usage(), Some(usage(0, 4, 0, 0, 0)));
}

/// Usage objects as upstreams write them and as they should not: the
/// reader in place and serde must agree on every one.
mod read_in_place_agrees_with_serde {
    use super::*;
    use proptest::prelude::*;

    /// A JSON value a count or an unknown member may hold.
    fn scalar() -> impl Strategy<Value = String> {
        prop_oneof![
            4 => (0u64..100_000).prop_map(|n| n.to_string()),
            1 => any::<u64>().prop_map(|n| n.to_string()),
            1 => Just("null".to_owned()),
            1 => Just("\"12\"".to_owned()),
            1 => Just("-3".to_owned()),
            1 => Just("2.5".to_owned()),
            1 => Just("1e2".to_owned()),
            1 => Just("true".to_owned()),
            1 => Just("[]".to_owned()),
            1 => Just("{\"a\":\"}\\\"\"}".to_owned()),
        ]
    }

    fn space() -> impl Strategy<Value = &'static str> {
        prop_oneof![6 => Just(""), 1 => Just(" "), 1 => Just("\n  ")]
    }

    fn object(
        names: &'static [&'static str],
        values: BoxedStrategy<String>,
    ) -> BoxedStrategy<String> {
        proptest::collection::vec(
            (proptest::sample::select(names), values, space(), space()),
            0..7,
        )
        .prop_map(|members| {
            let members: Vec<String> = members
                .into_iter()
                .map(|(name, value, a, b)| format!("{a}\"{name}\"{b}:{a}{value}{b}"))
                .collect();
            format!("{{{}}}", members.join(","))
        })
        .boxed()
    }

    /// A usage object (Chat or Responses names, and others), its nested
    /// details objects included.
    fn usage_value() -> BoxedStrategy<String> {
        const NESTED: &[&str] = &[
            "cached_tokens",
            "cache_write_tokens",
            "reasoning_tokens",
            "audio_tokens",
        ];
        const TOP: &[&str] = &[
            "prompt_tokens",
            "completion_tokens",
            "input_tokens",
            "output_tokens",
            "total_tokens",
            "prompt_tokens_details",
            "completion_tokens_details",
            "input_tokens_details",
            "output_tokens_details",
            "cache_read_input_tokens",
            "cache_creation_input_tokens",
            "cache_creation",
            "ephemeral_1h_input_tokens",
        ];
        let nested = object(NESTED, scalar().boxed());
        let value = prop_oneof![3 => scalar(), 2 => nested].boxed();
        object(TOP, value)
    }

    fn serde_usage<'de, U: Deserialize<'de>>(body: &'de [u8]) -> Option<U> {
        parse::<WithUsage<U>>(body)?.usage
    }

    proptest! {
        #[test]
        fn on_the_usage_value(value in usage_value()) {
            let span = value.as_bytes();
            let chat = read_usage::<ChatUsage>(span).map(Usage::from);
            prop_assert_eq!(chat, parse_text::<Option<ChatUsage>>(span).flatten().map(Usage::from));
            let responses = read_usage::<ResponsesUsage>(span).map(Usage::from);
            prop_assert_eq!(
                responses,
                parse_text::<Option<ResponsesUsage>>(span).flatten().map(Usage::from)
            );
            let claude = read_usage::<ClaudeUsage>(span).map(|u| u.apply_to(Usage::default()));
            prop_assert_eq!(
                claude,
                parse_text::<Option<ClaudeUsage>>(span).flatten().map(|u| u.apply_to(Usage::default()))
            );
        }

        #[test]
        fn on_a_whole_answer(
            value in usage_value(),
            before in proptest::collection::vec(scalar(), 0..3),
            after in proptest::collection::vec(scalar(), 0..3),
            a in space(),
        ) {
            let member = |i: usize, v: &String| format!("\"m{i}\":{a}{v}");
            let mut members: Vec<String> = before.iter().enumerate().map(|(i, v)| member(i, v)).collect();
            members.push(format!("\"usage\"{a}:{a}{value}"));
            members.extend(after.iter().enumerate().map(|(i, v)| member(i + 10, v)));
            let body = format!("{{{}}}", members.join(","));
            let body = body.as_bytes();
            prop_assert_eq!(
                from_response_body(Protocol::OpenAiChat, body),
                serde_usage::<ChatUsage>(body).map(Usage::from)
            );
            prop_assert_eq!(
                from_response_body(Protocol::OpenAiResponses, body),
                serde_usage::<ResponsesUsage>(body).map(Usage::from)
            );
            prop_assert_eq!(
                from_response_body(Protocol::Claude, body),
                serde_usage::<ClaudeUsage>(body).map(|u| u.apply_to(Usage::default()))
            );
        }
    }
}
