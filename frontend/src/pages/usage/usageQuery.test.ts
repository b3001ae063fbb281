// The usage explorer's checks, parameters and CSV.
import { describe, expect, it } from "vitest";
import type { UsageRow } from "../../api/usage";
import { usageRow } from "../../test/usageRow";
import { defaultValues, toCsv, toFilter, usageSchema } from "./usageQuery";

const NOW = Date.parse("2026-12-04T08:00:00Z");

function row(over: Partial<UsageRow>): UsageRow {
  return usageRow({
    requests: 1,
    input_tokens: 10,
    output_tokens: 5,
    latency_p50_ms: 100,
    latency_p95_ms: 200,
    ...over,
  });
}

describe("usage query", () => {
  it("asks for the last 24 h up to now by provider, hourly, by default", () => {
    const f = toFilter(defaultValues(NOW));
    expect(f.group_by).toBe("provider");
    expect(f.bucket).toBe("hour");
    expect(f.provider).toBeUndefined();
    expect(NOW - Date.parse(f.from ?? "")).toBe(24 * 3600_000);
    // open-ended: a request made this minute is in the answer
    expect(f.to).toBeUndefined();
  });

  it("sends groups in the API's order and ids as numbers", () => {
    const f = toFilter({
      ...defaultValues(NOW),
      group_by: ["key", "model"],
      bucket: "",
      user_id: " 7 ",
      model: " gpt ",
    });
    expect(f).toMatchObject({ group_by: "model,key", bucket: undefined, user_id: 7, model: "gpt" });
  });

  it("puts range and id errors on their fields", () => {
    const bad = { ...defaultValues(NOW), to: "2020-01-01T00:00", key_id: "x1" };
    const r = usageSchema.safeParse(bad);
    expect(r.success ? [] : r.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`)).toEqual([
      "to: usage.errorsText.toBeforeFrom",
      "key_id: usage.errorsText.id",
    ]);
    expect(usageSchema.safeParse(defaultValues(NOW)).success).toBe(true);
  });

  it("exports what is shown as CSV, quoting where needed", () => {
    const csv = toCsv(
      [
        row({
          bucket_start: "2026-12-04T01:00:00Z",
          provider: "openai",
          model: 'gpt "4o", mini',
          cost: "0.0015",
          priced_requests: 1,
        }),
      ],
      ["model", "provider"],
      true,
    );
    expect(csv.split("\r\n")).toEqual([
      "bucket_start,provider,model,requests,errors,input_tokens,output_tokens,cache_read_tokens,cache_write_tokens,reasoning_tokens,cost,priced_requests,latency_p50_ms,latency_p95_ms",
      '2026-12-04T01:00:00Z,openai,"gpt ""4o"", mini",1,0,10,5,0,0,0,0.0015,1,100,200',
      "",
    ]);
  });
});
