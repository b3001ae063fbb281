// A fake admin API for component and API-layer tests. Import it before
// anything that imports the API client: openapi-fetch takes
// `globalThis.fetch` when the client is created, so the stub must be in
// place first. Unmatched calls answer 404 in the API's error shape.
export interface Call {
  method: string;
  path: string;
  search: URLSearchParams;
  headers: Headers;
  body: unknown;
}

type Respond = (call: Call) => Response | unknown;
interface Handler {
  method: string;
  path: string;
  respond: Respond;
}

let handlers: Handler[] = [];
export const calls: Call[] = [];

/** A JSON answer with `status`. */
export function json(body: unknown, status = 200): Response {
  return new Response(status === 204 ? null : JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json" },
  });
}

/** An admin API error answer naming `field`. */
export function apiError(status: number, message: string, field: string | null = null): Response {
  return json({ error: { code: "bad_request", message, field } }, status);
}

/** Answers `method path` (path without query) with `respond`'s Response,
 * or its value as JSON 200. Later registrations win. */
export function mockApi(method: string, path: string, respond: Respond): void {
  handlers.unshift({ method, path, respond });
}

export function resetApi(): void {
  handlers = [];
  calls.length = 0;
}

globalThis.fetch = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
  const request = input instanceof Request ? input : new Request(input, init);
  const url = new URL(request.url);
  const text = request.body ? await request.text() : "";
  const call: Call = {
    method: request.method,
    path: url.pathname,
    search: url.searchParams,
    headers: request.headers,
    body: text ? (JSON.parse(text) as unknown) : undefined,
  };
  calls.push(call);
  const handler = handlers.find((h) => h.method === call.method && h.path === call.path);
  if (!handler) return apiError(404, `no mock for ${call.method} ${call.path}`);
  const answer = handler.respond(call);
  return answer instanceof Response ? answer : json(answer);
};
