// The playground's wire shapes per client protocol.
import { describe, expect, it } from "vitest";
import { buildRequest, modelIds, readEvent, splitSse } from "./protocols";

describe("playground protocols", () => {
  it("builds a streamed request per protocol with its own auth header", () => {
    const chat = buildRequest("openai_chat", "openai/gpt-4o", "hi", "gpk-1");
    expect(chat.url).toBe("/v1/chat/completions");
    expect(chat.headers.authorization).toBe("Bearer gpk-1");
    expect(chat.body).toMatchObject({ model: "openai/gpt-4o", stream: true, stream_options: { include_usage: true } });
    const claude = buildRequest("anthropic", "smart", "hi", "gpk-1");
    expect(claude.headers).toMatchObject({ "x-api-key": "gpk-1", "anthropic-version": "2023-06-01" });
    expect(claude.body).toMatchObject({ model: "smart", max_tokens: 1024 });
    const gemini = buildRequest("gemini", "google/gemini 2", "hi", "gpk-1");
    expect(gemini.url).toBe("/v1beta/models/google/gemini%202:streamGenerateContent?alt=sse");
    expect(gemini.headers["x-goog-api-key"]).toBe("gpk-1");
    expect(buildRequest("openai_responses", "m", "hi", "k").body).toEqual({ model: "m", stream: true, input: "hi" });
  });

  it("reads text and tokens from each stream's events", () => {
    expect(readEvent("openai_chat", { choices: [{ delta: { content: "He" } }] })).toMatchObject({ text: "He" });
    expect(readEvent("openai_chat", { choices: [], usage: { prompt_tokens: 3, completion_tokens: 4 } })).toMatchObject({
      input: 3,
      output: 4,
    });
    expect(readEvent("openai_responses", { type: "response.output_text.delta", delta: "x" }).text).toBe("x");
    expect(
      readEvent("openai_responses", {
        type: "response.completed",
        response: { usage: { input_tokens: 1, output_tokens: 2 } },
      }),
    ).toMatchObject({ input: 1, output: 2 });
    expect(readEvent("anthropic", { type: "content_block_delta", delta: { type: "text_delta", text: "y" } }).text).toBe(
      "y",
    );
    expect(readEvent("anthropic", { type: "message_start", message: { usage: { input_tokens: 9 } } }).input).toBe(9);
    expect(readEvent("anthropic", { type: "message_delta", usage: { output_tokens: 5 } }).output).toBe(5);
    expect(
      readEvent("gemini", {
        candidates: [{ content: { parts: [{ text: "a" }, { text: "b" }] } }],
        usageMetadata: { promptTokenCount: 2, candidatesTokenCount: 1 },
      }),
    ).toEqual({ text: "ab", input: 2, output: 1 });
    expect(readEvent("anthropic", { type: "error", error: { message: "overloaded" } }).error).toBe("overloaded");
  });

  it("splits SSE into complete events and keeps the rest", () => {
    expect(splitSse('event: x\ndata: {"a":1}\n\ndata: [DONE]\n\ndata: {"b"')).toEqual({
      data: ['{"a":1}'],
      rest: 'data: {"b"',
    });
    expect(splitSse("data: 1\r\n\r\n").data).toEqual(["1"]);
  });

  it("lists model ids", () => {
    expect(modelIds({ object: "list", data: [{ id: "smart" }, { id: "openai/gpt-4o" }] })).toEqual([
      "smart",
      "openai/gpt-4o",
    ]);
    expect(modelIds(null)).toEqual([]);
  });
});
