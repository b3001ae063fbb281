//! The SSE decoder on arbitrary bytes split at arbitrary points: never
//! panics, the split points never change the events, and a decoder with a
//! small bound never holds more than the bound plus one chunk.
#![no_main]

use gproxy_protocol::sse::SseDecoder;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (Vec<u8>, Vec<u8>, u8)| {
    let (data, cuts, limit) = input;
    let mut whole = SseDecoder::new();
    let mut expected = Vec::new();
    assert!(whole.feed(&data, &mut expected).is_ok());
    expected.extend(whole.finish());

    let mut split = SseDecoder::new();
    let mut bounded = SseDecoder::with_limit(usize::from(limit));
    let mut got = Vec::new();
    let mut scratch = Vec::new();
    let mut rest = data.as_slice();
    let mut feed = |chunk: &[u8], got: &mut Vec<_>| {
        assert!(split.feed(chunk, got).is_ok());
        if bounded.feed(chunk, &mut scratch).is_ok() {
            assert!(bounded.buffered_len() <= usize::from(limit));
        } else {
            assert_eq!(bounded.buffered_len(), 0);
        }
    };
    for cut in cuts {
        if rest.is_empty() {
            break;
        }
        let at = usize::from(cut) % (rest.len() + 1);
        let (head, tail) = rest.split_at(at);
        feed(head, &mut got);
        rest = tail;
    }
    feed(rest, &mut got);
    got.extend(split.finish());
    let _ = bounded.finish();
    assert_eq!(got, expected);
});
