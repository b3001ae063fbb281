//! OpenAI Responses to and from the canonical model (placeholder: filled in by the
//! converter for this protocol).

use super::{ConvertError, Request, Response, StreamEvent, StreamOptions};
use super::{StreamDecoder, StreamEncoder};

fn pending() -> ConvertError {
    ConvertError::Unsupported("OpenAI Responses conversion is not available".into())
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

/// Decodes a OpenAI Responses stream.
#[derive(Debug, Default)]
pub(super) struct ResponsesStreamDecoder {}

impl StreamDecoder for ResponsesStreamDecoder {
    fn feed(&mut self, _data: &str, _out: &mut Vec<StreamEvent>) -> Result<(), ConvertError> {
        Err(pending())
    }

    fn finish(&mut self, _out: &mut Vec<StreamEvent>) {}
}

/// Encodes a OpenAI Responses stream.
#[derive(Debug)]
pub(super) struct ResponsesStreamEncoder {
    _options: StreamOptions,
}

impl ResponsesStreamEncoder {
    pub(super) fn new(options: StreamOptions) -> Self {
        Self { _options: options }
    }
}

impl StreamEncoder for ResponsesStreamEncoder {
    fn encode(&mut self, _event: &StreamEvent, _out: &mut Vec<u8>) {}

    fn finish(&mut self, _out: &mut Vec<u8>) {}
}
