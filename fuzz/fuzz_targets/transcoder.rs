//! Stream transcoders between every pair on arbitrary upstream events: a
//! malformed event is an error, never a crash, and `finish` always closes.
#![no_main]

use gproxy_protocol::Protocol;
use gproxy_protocol::convert::{StreamOptions, Transcoder};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (u8, bool, Vec<String>)| {
    let (selector, flag, events) = input;
    let from = Protocol::ALL[usize::from(selector) % 4];
    let to = Protocol::ALL[usize::from(selector / 4) % 4];
    let options = StreamOptions {
        include_usage: flag,
        gemini_sse: !flag,
    };
    let mut t = Transcoder::new(from, to, options, None);
    let mut out = Vec::new();
    for data in &events {
        let _ = t.feed(data, &mut out);
    }
    t.finish(&mut out);
});
