// The Overview's arithmetic: windows, totals, trends, credential states.
import { describe, expect, it } from "vitest";
import type { ProviderHealth } from "../../api/health";
import { usageRow } from "../../test/usageRow";
import { circuitTone, credentialCounts, summarize, trendOf, windowOf } from "./overviewData";

const row = usageRow;

describe("overview data", () => {
  it("ends the window now, with daily buckets for 30 days", () => {
    const now = Date.parse("2026-12-04T08:00:00Z");
    expect(windowOf("1h", now)).toEqual({
      from: "2026-12-04T07:00:00.000Z",
      to: "2026-12-04T08:00:00.000Z",
      seconds: 3600,
      bucket: "hour",
    });
    expect(windowOf("30d", now).bucket).toBe("day");
    expect(windowOf("7d", now).from).toBe("2026-11-27T08:00:00.000Z");
  });

  it("uses the API's percentiles for one row and a weighted mean otherwise", () => {
    const one = summarize(
      [row({ requests: 120, errors: 6, latency_p50_ms: 80, latency_p95_ms: 400, input_tokens: 10 })],
      3600,
    );
    expect(one).toMatchObject({ requests: 120, perMinute: 2, errorRate: 0.05, p50: 80, p95: 400, approximate: false });
    const two = summarize(
      [
        row({ requests: 3, latency_p50_ms: 100, latency_p95_ms: 200 }),
        row({ requests: 1, latency_p50_ms: 500, latency_p95_ms: 600 }),
      ],
      60,
    );
    expect(two).toMatchObject({ requests: 4, p50: 200, p95: 300, approximate: true });
    expect(summarize([], 60)).toMatchObject({ requests: 0, errorRate: null, p50: null, p95: null });
  });

  it("sums the known costs exactly, without floats", () => {
    const s = summarize(
      [
        row({ requests: 3, priced_requests: 2, cost: "0.1" }),
        row({ requests: 1, priced_requests: 1, cost: "0.2" }),
        row({ requests: 1, cost: "0.000000001" }),
      ],
      60,
    );
    // 0.1 + 0.2 in floats is 0.30000000000000004.
    expect(s.cost).toBe("0.300000001");
    expect(s.pricedRequests).toBe(3);
    expect(summarize([], 60).cost).toBe("0");
  });

  it("orders trend points and sums rows of one bucket", () => {
    const points = trendOf([
      row({ bucket_start: "2026-12-04T02:00:00Z", requests: 2, errors: 1, input_tokens: 5 }),
      row({ bucket_start: "2026-12-04T01:00:00Z", requests: 1 }),
      row({ bucket_start: "2026-12-04T02:00:00Z", requests: 3, output_tokens: 7 }),
      row({ requests: 99 }),
    ]);
    expect(points.map((p) => [new Date(p.at).toISOString(), p.requests, p.errors, p.input, p.output])).toEqual([
      ["2026-12-04T01:00:00.000Z", 1, 0, 0, 0],
      ["2026-12-04T02:00:00.000Z", 5, 1, 5, 7],
    ]);
  });

  it("counts credential states as the gateway names them", () => {
    const p = {
      credential_states: [
        { id: 1, name: "a", weight: 1, state: "ok", in_flight: 2 },
        { id: 2, name: "b", weight: 1, state: "cooling_down", in_flight: 0 },
        { id: 3, name: "c", weight: 1, state: "transient_cooldown", in_flight: 1 },
        { id: 4, name: "d", weight: 1, state: "disabled", in_flight: 0 },
      ],
    } as ProviderHealth;
    expect(credentialCounts(p)).toEqual({ ok: 1, coolingDown: 2, disabled: 1, other: 0, inFlight: 3 });
    expect(circuitTone("open")).toBe("red");
    expect(circuitTone("half_open")).toBe("amber");
  });
});
