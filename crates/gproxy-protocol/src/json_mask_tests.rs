//! Unit tests for [`super::JsonMask`].

use serde_json::{Value, json};

use super::*;

fn mask(paths: &[&str]) -> JsonMask {
    let paths: Vec<String> = paths.iter().map(|p| (*p).to_owned()).collect();
    JsonMask::parse(&paths).unwrap()
}

/// Applies `paths` to `body`; the result as a value (the input when unchanged).
fn masked(paths: &[&str], body: &Value) -> Value {
    let bytes = serde_json::to_vec(body).unwrap();
    match mask(paths).apply(&bytes) {
        Some(out) => serde_json::from_slice(&out).unwrap(),
        None => body.clone(),
    }
}

fn chat() -> Value {
    json!({
        "model": "m-1",
        "temperature": 0.7,
        "messages": [
            {"role": "system", "name": "sys", "content": "be brief"},
            {"role": "user", "name": "alice", "content": [{"type": "text", "text": "hi"}]}
        ],
        "metadata": {"user.id": "u1", "a": {"b": {"c": 1, "d": 2}}},
        "a/b": 1,
        "m~n": 2
    })
}

#[test]
fn top_level_key() {
    let mut want = chat();
    want["temperature"] = Value::Null;
    assert_eq!(masked(&["temperature"], &chat()), want);
}

#[test]
fn dot_and_bracket_paths() {
    let mut want = chat();
    want["messages"][1]["content"] = Value::Null;
    assert_eq!(masked(&["messages[1].content"], &chat()), want);
    assert_eq!(masked(&["messages.1.content"], &chat()), want);

    let mut want = chat();
    want["metadata"]["a"]["b"]["c"] = Value::Null;
    assert_eq!(masked(&["metadata.a.b.c"], &chat()), want);

    let mut want = chat();
    want["messages"][1]["content"][0]["text"] = Value::Null;
    assert_eq!(
        masked(&["messages[1].content[0].text"], &chat()),
        want,
        "nested arrays"
    );
}

#[test]
fn quoted_keys_may_hold_dots() {
    let mut want = chat();
    want["metadata"]["user.id"] = Value::Null;
    assert_eq!(masked(&["metadata[\"user.id\"]"], &chat()), want);
    assert_eq!(masked(&["[\"metadata\"][\"user.id\"]"], &chat()), want);
}

#[test]
fn wildcards_over_arrays_and_objects() {
    let mut want = chat();
    want["messages"][0]["name"] = Value::Null;
    want["messages"][1]["name"] = Value::Null;
    assert_eq!(masked(&["messages[*].name"], &chat()), want);
    assert_eq!(masked(&["messages.*.name"], &chat()), want);

    let mut want = chat();
    want["metadata"]["a"]["b"]["c"] = Value::Null;
    want["metadata"]["a"]["b"]["d"] = Value::Null;
    assert_eq!(masked(&["metadata.a.b.*"], &chat()), want);

    let body = json!({"x": {"p": 1}, "y": {"p": 2}, "z": 3});
    assert_eq!(
        masked(&["*.p"], &body),
        json!({"x": {"p": null}, "y": {"p": null}, "z": 3})
    );
    assert_eq!(
        masked(&["*"], &body),
        json!({"x": null, "y": null, "z": null})
    );
}

#[test]
fn json_pointer_with_escapes() {
    let mut want = chat();
    want["messages"][0]["content"] = Value::Null;
    assert_eq!(masked(&["/messages/0/content"], &chat()), want);

    let mut want = chat();
    want["a/b"] = Value::Null;
    want["m~n"] = Value::Null;
    assert_eq!(masked(&["/a~1b", "/m~0n"], &chat()), want);

    // `*` is a literal key in a pointer; `-` and `01` address nothing.
    for path in ["/messages/*/name", "/messages/-/name", "/messages/01/name"] {
        assert_eq!(mask(&[path]).apply(chat().to_string().as_bytes()), None);
    }
}

#[test]
fn missing_paths_are_ignored() {
    let body = chat().to_string();
    for path in [
        "top_p",
        "messages[7].name",
        "messages[0].nope",
        "temperature.x",
        "model[0]",
        "metadata[0]",
        "/nope/0",
    ] {
        assert_eq!(mask(&[path]).apply(body.as_bytes()), None, "{path}");
    }
}

#[test]
fn already_null_is_no_change() {
    assert_eq!(mask(&["t"]).apply(br#"{"t":null}"#), None);
    assert_eq!(mask(&["a[*]"]).apply(br#"{"a":[null,null]}"#), None);
}

#[test]
fn non_json_and_empty_masks_are_untouched() {
    let m = mask(&["temperature"]);
    assert_eq!(m.apply(b"not json"), None);
    assert_eq!(m.apply(b""), None);
    assert_eq!(m.apply(b"{\"temperature\":1"), None);
    assert!(JsonMask::default().is_empty());
    assert_eq!(JsonMask::default().apply(br#"{"temperature":1}"#), None);
}

#[test]
fn non_object_bodies_use_the_value_path() {
    let out = mask(&["[0].a", "/1"])
        .apply(br#"[{"a":1,"b":2},3]"#)
        .unwrap();
    let out: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(out, json!([{"a": null, "b": 2}, null]));
    assert_eq!(mask(&["a"]).apply(b"42"), None);
}

#[test]
fn untouched_top_level_values_keep_their_bytes() {
    let body = br#"{"messages": [ {"name" : "x"} ], "keep":  [1, 2.50,  {"z":1,"a":2}], "t": 1}"#;
    let out = mask(&["t", "messages[*].name"]).apply(body).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(
        text.contains(r#""keep":[1, 2.50,  {"z":1,"a":2}]"#),
        "{text}"
    );
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["t"], Value::Null);
    assert_eq!(v["messages"][0]["name"], Value::Null);
}

#[test]
fn duplicate_keys_are_all_masked() {
    let out = mask(&["t"]).apply(br#"{"t":1,"t":2}"#).unwrap();
    assert_eq!(out, br#"{"t":null,"t":null}"#);
}

#[test]
fn bad_paths_are_refused_with_their_index() {
    for bad in [
        "",
        "a..b",
        "a.",
        ".a",
        "a[",
        "a[x]",
        "a[1",
        "a[\"b]",
        "a]",
        "a[99999999999999999999999]",
        "/a~2",
    ] {
        let paths = vec!["ok".to_owned(), bad.to_owned()];
        let err = JsonMask::parse(&paths).unwrap_err();
        assert_eq!(err.index, 1, "{bad:?}");
        assert_eq!(err.path, bad);
        assert!(err.to_string().contains(bad), "{err}");
    }
}

#[test]
fn good_paths_parse_to_segments() {
    assert_eq!(
        parse_path("a.b[2][*].*[\"x\\\"y\"]").unwrap(),
        vec![
            Segment::Key("a".into()),
            Segment::Key("b".into()),
            Segment::Index(2),
            Segment::Any,
            Segment::Any,
            Segment::Key("x\"y".into()),
        ]
    );
    assert_eq!(
        parse_path("/a~1b/~0/").unwrap(),
        vec![
            Segment::Key("a/b".into()),
            Segment::Key("~".into()),
            Segment::Key(String::new()),
        ]
    );
}
