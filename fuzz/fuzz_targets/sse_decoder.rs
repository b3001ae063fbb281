//! The SSE decoder on arbitrary bytes split at arbitrary points: never
//! panics, and the split points never change the events.
#![no_main]

use gproxy_protocol::sse::SseDecoder;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (Vec<u8>, Vec<u8>)| {
    let (data, cuts) = input;
    let mut whole = SseDecoder::new();
    let mut expected = Vec::new();
    whole.feed(&data, &mut expected);
    expected.extend(whole.finish());

    let mut split = SseDecoder::new();
    let mut got = Vec::new();
    let mut rest = data.as_slice();
    for cut in cuts {
        if rest.is_empty() {
            break;
        }
        let at = usize::from(cut) % (rest.len() + 1);
        let (head, tail) = rest.split_at(at);
        split.feed(head, &mut got);
        rest = tail;
    }
    split.feed(rest, &mut got);
    got.extend(split.finish());
    assert_eq!(got, expected);
});
