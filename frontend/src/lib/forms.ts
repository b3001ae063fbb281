// Placing the API's field errors (`error.field`, e.g. `headers.x-foo` or
// `json_param_mask[2]`) on the form field they belong to.
import type { FieldValues, Path, UseFormSetError } from "react-hook-form";
import { ApiError, errorMessage } from "../api/errors";

/**
 * Puts `error` on its field when the API named one the form has (after
 * `map`, which turns an API field path into a form field name), else on
 * `root`. Returns the message for callers that also toast it.
 */
export function applyServerError<T extends FieldValues>(
  error: unknown,
  setError: UseFormSetError<T>,
  fields: readonly Path<T>[],
  map: (apiField: string) => string = (f) => f,
): string {
  const message = errorMessage(error);
  if (error instanceof ApiError && error.field) {
    const name = map(error.field) as Path<T>;
    if (fields.includes(name)) {
      setError(name, { type: "server", message });
      return message;
    }
  }
  setError("root.server" as Path<T>, { type: "server", message });
  return message;
}
