//! OpenAI Chat Completions to and from the canonical model (placeholder: filled in by the
//! converter for this protocol).

use super::{ConvertError, Request, Response, StreamEvent, StreamOptions};
use super::{StreamDecoder, StreamEncoder};

fn pending() -> ConvertError {
    ConvertError::Unsupported("OpenAI Chat Completions conversion is not available".into())
}

pub(super) fn decode_request(_body: &[u8]) -> Result<Request, ConvertError> {
    Err(pending())
}

pub(super) fn encode_request(_req: &Request) -> Result<Vec<u8>, ConvertError> {
    Err(pending())
}

pub(super) fn decode_response(_body: &[u8]) -> Result<Response, ConvertError> {
    Err(pending())
}

pub(super) fn encode_response(_resp: &Response) -> Result<Vec<u8>, ConvertError> {
    Err(pending())
}

/// Decodes a OpenAI Chat Completions stream.
#[derive(Debug, Default)]
pub(super) struct ChatStreamDecoder {}

impl StreamDecoder for ChatStreamDecoder {
    fn feed(&mut self, _data: &str, _out: &mut Vec<StreamEvent>) -> Result<(), ConvertError> {
        Err(pending())
    }

    fn finish(&mut self, _out: &mut Vec<StreamEvent>) {}
}

/// Encodes a OpenAI Chat Completions stream.
#[derive(Debug)]
pub(super) struct ChatStreamEncoder {
    _options: StreamOptions,
}

impl ChatStreamEncoder {
    pub(super) fn new(options: StreamOptions) -> Self {
        Self { _options: options }
    }
}

impl StreamEncoder for ChatStreamEncoder {
    fn encode(&mut self, _event: &StreamEvent, _out: &mut Vec<u8>) {}

    fn finish(&mut self, _out: &mut Vec<u8>) {}
}
