// The admin API's error shape (`{"error": {code, message, field}}`) as a
// thrown value, so queries and mutations fail with something a form can
// place next to its field.
import type { components } from "./schema";

type ErrorBody = components["schemas"]["ErrorBody"];

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  /** The request field at fault (`targets[1].weight`), when one is. */
  readonly field: string | null;

  constructor(status: number, code: string, message: string, field: string | null = null) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.field = field;
  }

  /** From an answer's parsed body (any shape) and its status. */
  static from(status: number, body: unknown): ApiError {
    const detail = isErrorBody(body) ? body.error : null;
    return new ApiError(
      status,
      detail?.code ?? "http_" + status,
      detail?.message ?? `HTTP ${status}`,
      detail?.field ?? null,
    );
  }
}

function isErrorBody(body: unknown): body is ErrorBody {
  if (typeof body !== "object" || body === null || !("error" in body)) return false;
  const error = (body as { error: unknown }).error;
  return typeof error === "object" && error !== null && "message" in error;
}

/** The text to show for any thrown value. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
