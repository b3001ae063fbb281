//! The JSON editing and masking code on arbitrary bodies and mask paths:
//! never panics; an edit of a JSON object stays JSON; a mask's output is
//! JSON, and masking it again changes nothing.
#![no_main]

use gproxy_protocol::json_edit::{RawObject, prefix_model, replace_model};
use gproxy_protocol::json_mask::JsonMask;
use libfuzzer_sys::fuzz_target;

fn is_json(bytes: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(bytes).is_ok()
}

fuzz_target!(|input: (Vec<String>, &[u8])| {
    let (paths, body) = input;
    let valid = is_json(body);
    if let Ok(mask) = JsonMask::parse(&paths)
        && let Some(out) = mask.apply(body)
    {
        assert!(is_json(&out), "mask output is not JSON");
        assert_eq!(mask.apply(&out), None, "masking twice changed something");
    }
    if let Ok(mut object) = RawObject::parse(body) {
        let key = paths.first().map_or("model", String::as_str);
        object.set_str(key, "x");
        object.set_bool("stream", true);
        object.remove("messages");
        if valid {
            assert!(is_json(&object.to_vec()), "edited object is not JSON");
        }
    }
    for edited in [prefix_model(body, "p"), replace_model(body, "m")] {
        if let (Ok(Some(out)), true) = (edited, valid) {
            assert!(is_json(&out), "model rewrite is not JSON");
        }
    }
});
