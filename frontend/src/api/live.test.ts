import { describe, expect, it } from "vitest";
import { applyFrame, EMPTY_LIVE, liveUrl, parseFrames, LIVE_MAX_ROWS } from "./live";

const row = (id: string) =>
  `{"request_id":"${id}","created_at":"2026-01-01T00:00:00Z","protocol":"openai_chat","method":"POST","path":"/v1/chat/completions","stream":false,"status":200,"latency_ms":5,"attempts":1,"client_disconnected":false}`;

describe("live feed frames", () => {
  it("splits frames, skips comments and keeps the unfinished rest", () => {
    const { frames, rest } = parseFrames(`: connected\n\nevent: request\ndata: ${row("a")}\n\nevent: lag`);
    expect(frames).toEqual([{ event: "request", data: row("a") }]);
    expect(rest).toBe("event: lag");
  });

  it("puts the newest first, counts what was missed and keeps a bounded list", () => {
    let state = EMPTY_LIVE;
    for (const id of ["a", "b"]) state = applyFrame(state, { event: "request", data: row(id) });
    state = applyFrame(state, { event: "lagged", data: '{"missed":7}' });
    state = applyFrame(state, { event: "lagged", data: '{"missed":3}' });
    expect(state.rows.map((r) => r.request_id)).toEqual(["b", "a"]);
    expect(state.missed).toBe(10);
    for (let i = 0; i < LIVE_MAX_ROWS + 5; i++) state = applyFrame(state, { event: "request", data: row(`r${i}`) });
    expect(state.rows).toHaveLength(LIVE_MAX_ROWS);
  });

  it("puts only the filters given in the URL", () => {
    expect(liveUrl({})).toBe("/admin/api/logs/live");
    expect(liveUrl({ provider: "openai", model: "", status: "5xx" })).toBe(
      "/admin/api/logs/live?provider=openai&status=5xx",
    );
  });
});
