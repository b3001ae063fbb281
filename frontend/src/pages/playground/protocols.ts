// The playground's client protocols: how each asks for a streamed chat
// answer through gproxy (route.md) and how each stream's events carry
// text and token counts. Pure, so the wire shapes are tested directly.

export const PROTOCOLS = ["openai_chat", "openai_responses", "anthropic", "gemini"] as const;
export type Protocol = (typeof PROTOCOLS)[number];

export interface ChatRequest {
  url: string;
  headers: Record<string, string>;
  body: unknown;
}

/** The streamed request for `model` (an id from `/v1/models`:
 * `provider/model` or a route name) in `protocol`, authenticated by `key`. */
export function buildRequest(protocol: Protocol, model: string, prompt: string, key: string): ChatRequest {
  const json = { "content-type": "application/json" };
  switch (protocol) {
    case "openai_chat":
      return {
        url: "/v1/chat/completions",
        headers: { ...json, authorization: `Bearer ${key}` },
        body: {
          model,
          stream: true,
          stream_options: { include_usage: true },
          messages: [{ role: "user", content: prompt }],
        },
      };
    case "openai_responses":
      return {
        url: "/v1/responses",
        headers: { ...json, authorization: `Bearer ${key}` },
        body: { model, stream: true, input: prompt },
      };
    case "anthropic":
      return {
        url: "/v1/messages",
        headers: { ...json, "x-api-key": key, "anthropic-version": "2023-06-01" },
        body: { model, stream: true, max_tokens: 1024, messages: [{ role: "user", content: prompt }] },
      };
    case "gemini":
      return {
        url: `/v1beta/models/${model.split("/").map(encodeURIComponent).join("/")}:streamGenerateContent?alt=sse`,
        headers: { ...json, "x-goog-api-key": key },
        body: { contents: [{ role: "user", parts: [{ text: prompt }] }] },
      };
  }
}

/** What one stream event adds: text, and token counts when it has them. */
export interface Delta {
  text: string;
  input?: number;
  output?: number;
  error?: string;
}

type Json = Record<string, unknown>;
const obj = (v: unknown): Json => (typeof v === "object" && v !== null ? (v as Json) : {});
const num = (v: unknown): number | undefined => (typeof v === "number" ? v : undefined);
const str = (v: unknown): string => (typeof v === "string" ? v : "");

/** Reads one SSE `data:` payload (already JSON-parsed) of `protocol`. */
export function readEvent(protocol: Protocol, data: unknown): Delta {
  const d = obj(data);
  if ("error" in d) {
    const e = obj(d.error);
    return { text: "", error: str(e.message) || JSON.stringify(d.error) };
  }
  switch (protocol) {
    case "openai_chat": {
      const choice = obj(Array.isArray(d.choices) ? d.choices[0] : undefined);
      const usage = obj(d.usage);
      return {
        text: str(obj(choice.delta).content),
        input: num(usage.prompt_tokens),
        output: num(usage.completion_tokens),
      };
    }
    case "openai_responses": {
      if (d.type === "response.output_text.delta") return { text: str(d.delta) };
      const usage = obj(obj(d.response).usage);
      return { text: "", input: num(usage.input_tokens), output: num(usage.output_tokens) };
    }
    case "anthropic": {
      if (d.type === "content_block_delta") return { text: str(obj(d.delta).text) };
      if (d.type === "message_start") return { text: "", input: num(obj(obj(d.message).usage).input_tokens) };
      if (d.type === "message_delta") return { text: "", output: num(obj(d.usage).output_tokens) };
      return { text: "" };
    }
    case "gemini": {
      const candidate = obj(Array.isArray(d.candidates) ? d.candidates[0] : undefined);
      const parts = obj(candidate.content).parts;
      const text = Array.isArray(parts) ? parts.map((p) => str(obj(p).text)).join("") : "";
      const usage = obj(d.usageMetadata);
      return { text, input: num(usage.promptTokenCount), output: num(usage.candidatesTokenCount) };
    }
  }
}

/** Splits SSE text into complete events' `data` payloads; returns them and
 * the unfinished rest to prepend to the next chunk. */
export function splitSse(buffer: string): { data: string[]; rest: string } {
  const normalized = buffer.replace(/\r\n/g, "\n");
  const blocks = normalized.split("\n\n");
  const rest = blocks.pop() ?? "";
  const data = blocks
    .map((b) =>
      b
        .split("\n")
        .filter((l) => l.startsWith("data:"))
        .map((l) => l.slice(5).replace(/^ /, ""))
        .join("\n"),
    )
    .filter((d) => d !== "" && d !== "[DONE]");
  return { data, rest };
}

/** Model ids from a `/v1/models` answer (OpenAI shape). */
export function modelIds(body: unknown): string[] {
  const data = obj(body).data;
  return Array.isArray(data) ? data.map((m) => str(obj(m).id)).filter(Boolean) : [];
}
