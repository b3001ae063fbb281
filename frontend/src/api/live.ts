// The live request feed: GET /admin/api/logs/live is Server-Sent Events
// (`event: request` with one finished request, `event: lagged` with
// `{"missed": n}` when this viewer read too slowly and lost some). Read with
// fetch rather than EventSource so an admin-key sign-in can send its
// `Authorization` header; a session sends its cookie.
import { useEffect, useState } from "react";
import { adminKey, type Schemas } from "./client";

export type LiveRow = Schemas["LiveRequest"];

export interface LiveFilters {
  provider?: string | undefined;
  model?: string | undefined;
  /** A code (`429`), a class (`4xx`) or `error`. */
  status?: string | undefined;
}

export interface LiveFrame {
  event: string;
  data: string;
}

export interface LiveState {
  /** Newest first, at most {@link LIVE_MAX_ROWS}. */
  rows: LiveRow[];
  /** Requests this viewer lost by reading too slowly. */
  missed: number;
}

export const LIVE_MAX_ROWS = 500;
export const EMPTY_LIVE: LiveState = { rows: [], missed: 0 };

/** Splits `buffer` into complete SSE frames and the unfinished rest. */
export function parseFrames(buffer: string): { frames: LiveFrame[]; rest: string } {
  const normalized = buffer.replace(/\r\n?/g, "\n");
  const parts = normalized.split("\n\n");
  const rest = parts.pop() ?? "";
  const frames: LiveFrame[] = [];
  for (const part of parts) {
    let event = "message";
    const data: string[] = [];
    for (const line of part.split("\n")) {
      if (line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
      if (field === "event") event = value;
      else if (field === "data") data.push(value);
    }
    if (data.length > 0) frames.push({ event, data: data.join("\n") });
  }
  return { frames, rest };
}

/** The state after one frame. */
export function applyFrame(state: LiveState, frame: LiveFrame): LiveState {
  if (frame.event === "request") {
    const row = JSON.parse(frame.data) as LiveRow;
    return { ...state, rows: [row, ...state.rows].slice(0, LIVE_MAX_ROWS) };
  }
  if (frame.event === "lagged") {
    const { missed } = JSON.parse(frame.data) as { missed: number };
    return { ...state, missed: state.missed + missed };
  }
  return state;
}

export function liveUrl(filters: LiveFilters): string {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(filters)) {
    if (typeof value === "string" && value !== "") query.set(key, value);
  }
  const text = query.toString();
  return `/admin/api/logs/live${text ? `?${text}` : ""}`;
}

/** Follows the feed while `enabled`; reconnects when the filters change
 * (mount it with a `key` of the filters to start from an empty list). */
export function useLiveFeed(enabled: boolean, filters: LiveFilters) {
  const [state, setState] = useState<LiveState>(EMPTY_LIVE);
  const [connected, setConnected] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const url = liveUrl(filters);

  useEffect(() => {
    if (!enabled) return;
    const abort = new AbortController();
    const headers: Record<string, string> = { accept: "text/event-stream" };
    const key = adminKey();
    if (key) headers.authorization = `Bearer ${key}`;
    void (async () => {
      try {
        const response = await fetch(url, { headers, credentials: "same-origin", signal: abort.signal });
        if (!response.ok || !response.body) {
          setError(`HTTP ${response.status}`);
          return;
        }
        setConnected(true);
        const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          const { frames, rest } = parseFrames(buffer + value);
          buffer = rest;
          if (frames.length > 0) setState((s) => frames.reduce(applyFrame, s));
        }
      } catch (e) {
        if (!abort.signal.aborted) setError(e instanceof Error ? e.message : String(e));
      } finally {
        setConnected(false);
      }
    })();
    return () => abort.abort();
  }, [enabled, url]);

  return { ...state, connected, error };
}
