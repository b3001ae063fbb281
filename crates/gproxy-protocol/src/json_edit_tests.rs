//! Unit tests for [`super::RawObject`], [`super::prefix_model`] and
//! [`super::replace_model`].

use serde_json::{Value, json};

use super::*;

fn value(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).unwrap()
}

#[test]
fn round_trip_unchanged_is_equal_as_value() {
    let input = br#" {
        "model" : "gpt-4o",
        "messages": [ {"role": "user", "content": "hi \"there\" \u00e9"} ],
        "stream":true, "n": 1.50, "stop": null, "meta": {"a": {"b": [1, 2, {}]}}
    } "#;
    let object = RawObject::parse(input).unwrap();
    assert_eq!(object.len(), 6);
    assert!(!object.is_empty());
    assert_eq!(value(&object.to_vec()), value(input));
    assert_eq!(
        object.keys().collect::<Vec<_>>(),
        ["model", "messages", "stream", "n", "stop", "meta"]
    );
}

#[test]
fn nested_values_are_copied_byte_for_byte() {
    let input = br#"{"a" :  [1,  2 ,{"x" : "\u00e9\n"}] , "b":1.50e+3,"c":"\ud83e\udd80"}"#;
    let object = RawObject::parse(input).unwrap();
    assert_eq!(
        object.to_vec(),
        br#"{"a":[1,  2 ,{"x" : "\u00e9\n"}],"b":1.50e+3,"c":"\ud83e\udd80"}"#
    );
    assert_eq!(object.get("b").unwrap().get(), "1.50e+3");
}

#[test]
fn modify_and_write() {
    let input = br#"{"model":"a","stream":false,"temperature":0.2,"messages":[]}"#;
    let mut object = RawObject::parse(input).unwrap();
    object.set_str("model", "b \"quoted\"\n");
    object.set_bool("stream", true);
    assert!(object.remove("temperature"));
    assert!(!object.remove("temperature"));
    object
        .set_raw("stream_options", r#"{"include_usage": true}"#.into())
        .unwrap();
    object.set_raw("messages", "[1]".into()).unwrap();
    let out = object.to_vec();
    assert_eq!(
        value(&out),
        json!({
            "model": "b \"quoted\"\n",
            "stream": true,
            "messages": [1],
            "stream_options": {"include_usage": true}
        })
    );
    // Replaced keys keep their position; new ones are appended.
    assert_eq!(
        object.keys().collect::<Vec<_>>(),
        ["model", "stream", "messages", "stream_options"]
    );
    assert_eq!(object.get_str("model").as_deref(), Some("b \"quoted\"\n"));
    assert_eq!(object.get_bool("stream"), Some(true));
}

#[test]
fn typed_getters() {
    let input = br#"{"s":"plain","e":"a\tb","n":1,"t":true,"f":false,"z":null}"#;
    let object = RawObject::parse(input).unwrap();
    assert!(matches!(object.get_str("s"), Some(Cow::Borrowed("plain"))));
    assert_eq!(object.get_str("e").as_deref(), Some("a\tb"));
    assert_eq!(object.get_str("n"), None);
    assert_eq!(object.get_str("missing"), None);
    assert_eq!(object.get_bool("t"), Some(true));
    assert_eq!(object.get_bool("f"), Some(false));
    assert_eq!(object.get_bool("z"), None);
    assert_eq!(object.get_bool("s"), None);
    assert!(object.contains_key("z"));
    assert!(!object.contains_key("missing"));
    assert_eq!(object.get("z").unwrap().get(), "null");
}

#[test]
fn escaped_keys_are_unescaped_and_written_back_escaped() {
    let input = br#"{"a\"b":1,"\u00e9":2,"tab\there":3,"\u0001":4,"back\\slash":5}"#;
    let mut object = RawObject::parse(input).unwrap();
    assert_eq!(object.get("a\"b").unwrap().get(), "1");
    assert_eq!(object.get("é").unwrap().get(), "2");
    assert_eq!(object.get("tab\there").unwrap().get(), "3");
    assert_eq!(object.get("\u{1}").unwrap().get(), "4");
    object.set_str("new\nkey", "v");
    let out = object.to_vec();
    let expected = json!({"a\"b":1,"é":2,"tab\there":3,"\u{1}":4,"back\\slash":5,"new\nkey":"v"});
    assert_eq!(value(&out), expected);
    // Same escaping as serde_json.
    let mut ours = Vec::new();
    let awkward = "\"\\/\u{0}\u{8}\u{c}\n\r\t\u{1f}\u{7f}é🦀";
    write_json_str(&mut ours, awkward);
    assert_eq!(ours, serde_json::to_vec(awkward).unwrap());
}

#[test]
fn duplicate_keys_are_kept_and_written_together() {
    let input = br#"{"model":"a","x":1,"model":"b"}"#;
    let mut object = RawObject::parse(input).unwrap();
    assert_eq!(object.len(), 3);
    assert_eq!(object.get_str("model").as_deref(), Some("b"));
    assert_eq!(object.to_vec(), input);
    object.set_str("model", "c");
    assert_eq!(object.to_vec(), br#"{"model":"c","x":1,"model":"c"}"#);
    assert!(object.remove("model"));
    assert_eq!(object.to_vec(), br#"{"x":1}"#);
}

#[test]
fn empty_object() {
    let mut object = RawObject::parse(b" {\n} ").unwrap();
    assert!(object.is_empty());
    assert_eq!(object.to_vec(), b"{}");
    object.set_bool("stream", false);
    assert_eq!(object.to_vec(), br#"{"stream":false}"#);
}

#[test]
fn text_beyond_ascii_is_read_as_it_was() {
    // Parsed as text once it is valid UTF-8; keys and values as before.
    let body = "{\"n\u{e4}me\":\"\u{1F600} \\u00e9\",\"model\":\"m\"}";
    let object = RawObject::parse(body.as_bytes()).unwrap();
    assert_eq!(
        object.get_str("n\u{e4}me").as_deref(),
        Some("\u{1F600} \u{e9}")
    );
    assert_eq!(object.get_str("model").as_deref(), Some("m"));
    assert_eq!(
        object.get("n\u{e4}me").unwrap().get(),
        "\"\u{1F600} \\u00e9\""
    );
}

#[test]
fn errors() {
    for bad in [
        &b""[..],
        b"{",
        b"{\"a\":}",
        b"{\"a\":1,}",
        b"{\"a\":1} x",
        b"[DONE]",
        b"\xFF",
        b"{\"a\":\"\xFF\"}",
    ] {
        assert!(
            matches!(RawObject::parse(bad), Err(JsonEditError::Invalid(_))),
            "{:?}",
            String::from_utf8_lossy(bad)
        );
    }
    for not_object in [&b"[]"[..], b"1", b"\"s\"", b"null", b"  true "] {
        assert!(matches!(
            RawObject::parse(not_object),
            Err(JsonEditError::NotAnObject)
        ));
    }
    let mut object = RawObject::parse(b"{}").unwrap();
    assert!(matches!(
        object.set_raw("a", "{nope".into()),
        Err(JsonEditError::Invalid(_))
    ));
    assert!(object.is_empty());
    assert_eq!(
        JsonEditError::NotAnObject.to_string(),
        "expected a JSON object"
    );
}

#[test]
fn prefix_model_chat_request_and_chunk() {
    let out = prefix_model(
        br#"{"id":"chatcmpl-1","object":"chat.completion.chunk","model":"gpt-4o-mini","choices":[]}"#,
        "openai",
    )
    .unwrap()
    .unwrap();
    assert_eq!(
        value(&out),
        json!({"id":"chatcmpl-1","object":"chat.completion.chunk","model":"openai/gpt-4o-mini","choices":[]})
    );
}

#[test]
fn prefix_model_claude_message_start() {
    let input = br#"{"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","content":[],"model":"claude-sonnet-4-5","stop_reason":null,"usage":{"input_tokens":25,"output_tokens":1}}}"#;
    let out = prefix_model(input, "anthropic").unwrap().unwrap();
    let mut expected = value(input);
    expected["message"]["model"] = json!("anthropic/claude-sonnet-4-5");
    assert_eq!(value(&out), expected);
}

#[test]
fn prefix_model_responses_event() {
    let input = br#"{"type":"response.created","sequence_number":0,"response":{"id":"resp_1","object":"response","status":"in_progress","model":"gpt-4.1","output":[],"usage":null}}"#;
    let out = prefix_model(input, "p").unwrap().unwrap();
    let mut expected = value(input);
    expected["response"]["model"] = json!("p/gpt-4.1");
    assert_eq!(value(&out), expected);
}

#[test]
fn prefix_model_nothing_to_do() {
    for input in [
        &br#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}}"#[..],
        br#"{"model":null,"message":"text","response":[1]}"#,
        br#"{"message":{"model":5}}"#,
        br#"{}"#,
    ] {
        assert_eq!(prefix_model(input, "p").unwrap(), None);
    }
    assert!(matches!(
        prefix_model(b"[DONE]", "p"),
        Err(JsonEditError::Invalid(_))
    ));
    assert!(matches!(
        prefix_model(b"[{}]", "p"),
        Err(JsonEditError::NotAnObject)
    ));
}

#[test]
fn prefix_model_escapes() {
    let out = prefix_model(br#"{"model":"m\u0022x"}"#, "a\"b")
        .unwrap()
        .unwrap();
    assert_eq!(value(&out), json!({"model": "a\"b/m\"x"}));
}

#[test]
fn replace_model_top_level_and_nested() {
    let out = replace_model(br#"{"id":"c","model":"gpt-4o-mini","x":[1]}"#, "smart")
        .unwrap()
        .unwrap();
    assert_eq!(out, br#"{"id":"c","model":"smart","x":[1]}"#);
    let out = replace_model(
        br#"{"type":"message_start","message":{"id":"m","model":"claude-x"}}"#,
        "smart",
    )
    .unwrap()
    .unwrap();
    assert_eq!(
        out,
        br#"{"type":"message_start","message":{"id":"m","model":"smart"}}"#
    );
    assert_eq!(replace_model(br#"{"a":1}"#, "smart").unwrap(), None);
}

#[test]
fn model_scan_agrees_with_the_full_parse() {
    // A prefix with characters to escape, written beside the model.
    let f: &dyn Fn(&str, &mut Vec<u8>) = &|m, out| {
        out.push(b'"');
        write_json_str_contents(out, "p\"/");
        write_json_str_contents(out, m);
        out.push(b'"');
    };
    let cases: &[&[u8]] = &[
        br#"{"id":"c","object":"chat.completion","created":1,"model":"gpt-4o-mini","choices":[{"message":{"content":"{\"model\":1} ]"}}],"usage":{"prompt_tokens":1}}"#,
        b" {\n  \"model\" : \"m\" ,\n \"x\": [1, {\"y\": \"}\"}], \"z\": true } \n",
        br#"{"model":"first","a":null,"model":"last"}"#,
        br#"{"model":"first","model":5}"#,
        br#"{"model":"first","model":{"a":1}}"#,
        br#"{"model":"m\u0022x\\y"}"#,
        br#"{"mod\u0065l":"m","model":"n"}"#,
        br#"{"model":"m","message":{"model":"inner"}}"#,
        br#"{"type":"message_start","message":{"id":"m","model":"claude-x"}}"#,
        br#"{"x":-1.5e3,"model":"m","y":false}"#,
        br#"{"a":}"#,
        br#"{"model":"m","a":"\u0041","b":[}"#,
        br#"{"model":"m","a":"model","b":[}"#,
        br#"{}"#,
        br#"[DONE]"#,
        br#"[{"model":"m"}]"#,
        b"",
    ];
    for &case in cases {
        let fast = edit_model(case, f);
        let full = edit_model_parsed(case, f);
        let shown = String::from_utf8_lossy(case);
        match (fast, full) {
            (Ok(Some(a)), Ok(Some(b))) => assert_eq!(value(&a), value(&b), "{shown}"),
            (Ok(None), Ok(None)) => {}
            (Err(a), Err(b)) => assert_eq!(
                std::mem::discriminant(&a),
                std::mem::discriminant(&b),
                "{shown}"
            ),
            (a, b) => panic!("{shown}: scan {a:?}, parse {b:?}"),
        }
    }
    // After a model that no other member of its name can follow (no
    // `"model"`, no `\u` escape after it), the rest is not walked: a body
    // malformed only there gets its model rewritten, where the parse fails.
    for case in [
        &br#"{"model":"m"}[]"#[..],
        br#"{"model":"m""#,
        br#"{"model":"m","a":1,}"#,
        br#"{"model":"m","a":}"#,
        br#"{"model":"m","a":[1,2}"#,
    ] {
        let shown = String::from_utf8_lossy(case);
        let out = edit_model(case, f).unwrap().unwrap();
        assert!(out.starts_with(br#"{"model":"p\"/m""#), "{shown}");
        assert!(edit_model_parsed(case, f).is_err(), "{shown}");
    }
    // The scan splices: the answer's own spacing is kept.
    assert_eq!(
        prefix_model(b"{ \"model\": \"m\", \"a\": 1 }", "p")
            .unwrap()
            .unwrap(),
        b"{ \"model\": \"p/m\", \"a\": 1 }"
    );
}

#[test]
fn u64_at_first_takes_the_first_key_present_that_holds_a_number() {
    let keys = ["max_completion_tokens", "max_tokens"];
    let first = |body: &[u8]| u64_at_first(body, &[], &keys);
    assert_eq!(
        first(br#"{"max_tokens":7,"max_completion_tokens":9}"#),
        Some(Some(9))
    );
    assert_eq!(
        first(br#"{"max_completion_tokens":9,"max_tokens":7}"#),
        Some(Some(9))
    );
    assert_eq!(
        first(br#"{"messages":[{"max_tokens":1}],"max_tokens":7}"#),
        Some(Some(7))
    );
    // The last of a repeated key, as a parser would.
    assert_eq!(first(br#"{"max_tokens":7,"max_tokens":8}"#), Some(Some(8)));
    assert_eq!(
        first(br#"{"max_completion_tokens":null,"max_tokens":7}"#),
        Some(Some(7))
    );
    assert_eq!(first(br#"{"model":"m"}"#), Some(None));
    assert_eq!(
        u64_at_first(
            br#"{"generationConfig":{"topK":3,"maxOutputTokens":5}}"#,
            &["generationConfig"],
            &["maxOutputTokens"]
        ),
        Some(Some(5))
    );
    assert_eq!(first(b"[1]"), None);
}

#[test]
fn u64_at_follows_nested_keys() {
    let body = br#"{"model":"m","generationConfig":{"temperature":0.2,"maxOutputTokens":512},"max_tokens":7}"#;
    assert_eq!(u64_at(body, &["max_tokens"]), Some(Some(7)));
    assert_eq!(
        u64_at(body, &["generationConfig", "maxOutputTokens"]),
        Some(Some(512))
    );
    assert_eq!(u64_at(body, &["generationConfig", "topK"]), Some(None));
    assert_eq!(u64_at(body, &["max_completion_tokens"]), Some(None));
    // Not an unsigned integer: absent, as a full parse's `as_u64` says.
    assert_eq!(u64_at(br#"{"max_tokens":-1}"#, &["max_tokens"]), Some(None));
    assert_eq!(
        u64_at(br#"{"max_tokens":"9"}"#, &["max_tokens"]),
        Some(None)
    );
    // A parent that is not an object.
    assert_eq!(
        u64_at(br#"{"generationConfig":[1]}"#, &["generationConfig", "x"]),
        Some(None)
    );
    // Malformed: the scan gives up.
    assert_eq!(u64_at(b"[1]", &["max_tokens"]), None);
}

#[test]
fn plain_str_at_reads_unescaped_top_level_strings() {
    let body = br#"{"messages":[{"model":"inner"}],"model":"openai/gpt-4o","n":1}"#;
    assert_eq!(plain_str_at(body, "model"), Some("openai/gpt-4o"));
    assert_eq!(plain_str_at(body, "n"), None);
    assert_eq!(plain_str_at(body, "absent"), None);
    assert_eq!(plain_str_at(br#"{"model":"a\u0062"}"#, "model"), None);
}

#[test]
fn the_walk_from_the_end_finds_what_the_forward_scan_finds() {
    let bodies = [
        // OpenAI Chat: usage, then two more members.
        r#"{"id":"c1","choices":[{"message":{"content":"a } ] \" {"}}],"usage":{"prompt_tokens":3,"completion_tokens_details":{"reasoning_tokens":1}},"service_tier":"default","system_fingerprint":"fp_1"}"#,
        // Claude: usage last, pretty-printed.
        "{\n  \"content\": [{\"type\": \"text\", \"text\": \"x\\\\\"}],\n  \"stop_sequence\": null,\n  \"usage\": {\"input_tokens\": 5}\n}\n",
        // Values of every kind after it: escaped quotes and backslashes,
        // numbers, literals, arrays with brackets in strings.
        r#"{"usage":{"a":1},"s":"q\"}\\","n":-1.5e3,"t":true,"z":null,"arr":["]",{"k":"["}],"e":{}}"#,
        // The key twice: the last one counts.
        r#"{"usage":1,"x":2,"usage":{"b":2}}"#,
        // A key that ends like it, and a nested one.
        r#"{"usage":7,"my_usage":1,"o":{"usage":9}}"#,
        r#"{ "usage" : [ 1 , 2 ] , "k" : "v" }"#,
    ];
    for body in bodies {
        let forward = top_level_value(body.as_bytes(), b"usage").unwrap().unwrap();
        let back = top_level_value_from_end(body.as_bytes(), b"usage").unwrap();
        assert_eq!(&body[back.clone()], &body[forward], "{body}");
        // The span is the value, parsed alone.
        serde_json::from_str::<Value>(&body[back]).unwrap();
    }
}

#[test]
fn the_walk_from_the_end_gives_up_where_the_forward_scan_must_decide() {
    for body in [
        // Absent: the walk reaches the first member.
        r#"{"a":1,"b":[2]}"#,
        "{}",
        // Not an object, or cut short.
        r#"[{"usage":1}]"#,
        r#"{"usage":1"#,
        r#"{"usage":1,}"#,
        // An escaped key is never taken for the key.
        r#"{"usage":1,"us\u0061ge":2}"#,
        "",
    ] {
        assert_eq!(
            top_level_value_from_end(body.as_bytes(), b"usage"),
            None,
            "{body}"
        );
    }
}
