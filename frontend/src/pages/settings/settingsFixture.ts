// Stored settings as the API answers them, for the settings tests.
import type { Settings } from "../../api/settings";

export const SETTINGS: Settings = {
  limits: {
    max_body_bytes: 33554432,
    max_response_bytes: 67108864,
    max_passthrough_body_bytes: 536870912,
    connect_timeout_secs: 10,
    first_byte_timeout_secs: 300,
    stream_idle_timeout_secs: 120,
  },
  circuit_breaker: { enabled: true, failure_threshold: 5, window_seconds: 120, backend: "memory" },
  logging: {
    record_requests: true,
    capture_bodies: false,
    redact_headers: ["authorization", "cookie"],
    retention_days: 0,
  },
  cors: { allowed_origins: [], allow_credentials: false, max_age_secs: 600 },
  proxy: "http://user:***@proxy.local:3128",
  metrics: { enabled: true, per_key_labels: false, max_models: 200 },
  rate_limits: {
    window_secs: 60,
    global: { rpm: 6000 },
    providers: { openai: { tpm: 2000000 } },
    keys: { "sk-ab12": { rpm: 60, concurrent: 2 } },
  },
  budgets: {
    timezone: "Europe/Berlin",
    unpriced: "refuse",
    users: { alice: { daily_usd: "5", warn_at_percent: 80 } },
    keys: { "sk-ab12": { monthly_usd: "100", total_usd: "250.5" } },
  },
  cache: { enabled: true, ttl_secs: 300, keys: ["sk-ab12"] },
};
