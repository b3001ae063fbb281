// A usage row with every metric zero unless given, for usage tests.
import type { UsageRow } from "../api/usage";

export function usageRow(over: Partial<UsageRow>): UsageRow {
  return {
    requests: 0,
    errors: 0,
    input_tokens: 0,
    output_tokens: 0,
    cache_read_tokens: 0,
    cache_write_tokens: 0,
    reasoning_tokens: 0,
    cost: "0",
    priced_requests: 0,
    latency_p50_ms: 0,
    latency_p95_ms: 0,
    ...over,
  };
}
