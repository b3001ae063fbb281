//! Every request and response converter on arbitrary bodies: decoding
//! never panics, and whatever decodes re-encodes into every protocol
//! without panicking.
#![no_main]

use gproxy_protocol::Protocol;
use gproxy_protocol::convert;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (u8, &[u8])| {
    let (selector, body) = input;
    let from = Protocol::ALL[usize::from(selector) % 4];
    if let Ok(req) = convert::decode_request(from, body) {
        for to in Protocol::ALL {
            let _ = convert::encode_request(to, &req);
        }
    }
    if let Ok(resp) = convert::decode_response(from, body) {
        for to in Protocol::ALL {
            let _ = convert::encode_response(to, &resp);
        }
    }
});
