// Sends one playground request and streams its answer: text as it comes,
// then tokens, latency (to headers and in total) and which provider and
// model served (gproxy's `x-gproxy-provider` / `x-gproxy-model` headers).
import { buildRequest, readEvent, splitSse, type Protocol } from "./protocols";

export interface Outcome {
  status: number;
  provider: string | null;
  model: string | null;
  requestId: string | null;
  firstByteMs: number;
  totalMs: number;
  input: number | null;
  output: number | null;
  error: string | null;
}

export async function streamChat(
  protocol: Protocol,
  model: string,
  prompt: string,
  key: string,
  onText: (text: string) => void,
  signal?: AbortSignal,
): Promise<Outcome> {
  const req = buildRequest(protocol, model, prompt, key);
  const started = performance.now();
  const response = await fetch(new URL(req.url, globalThis.location.origin), {
    method: "POST",
    headers: req.headers,
    body: JSON.stringify(req.body),
    signal: signal ?? null,
  });
  const outcome: Outcome = {
    status: response.status,
    provider: response.headers.get("x-gproxy-provider"),
    model: response.headers.get("x-gproxy-model"),
    requestId: response.headers.get("x-request-id"),
    firstByteMs: Math.round(performance.now() - started),
    totalMs: 0,
    input: null,
    output: null,
    error: null,
  };
  if (!response.ok || !response.body) {
    const text = await response.text().catch(() => "");
    let message = text || `HTTP ${response.status}`;
    try {
      const d = readEvent(protocol, JSON.parse(text));
      if (d.error) message = d.error;
    } catch {
      // not JSON: the text itself
    }
    outcome.error = message;
    outcome.totalMs = Math.round(performance.now() - started);
    return outcome;
  }
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    const { data, rest } = splitSse(buffer + value);
    buffer = rest;
    for (const payload of data) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(payload);
      } catch {
        continue;
      }
      const d = readEvent(protocol, parsed);
      if (d.text) onText(d.text);
      if (d.input !== undefined) outcome.input = d.input;
      if (d.output !== undefined) outcome.output = d.output;
      if (d.error) outcome.error = d.error;
    }
  }
  outcome.totalMs = Math.round(performance.now() - started);
  return outcome;
}
