// The end of every form: the error not tied to a field (announced when it
// appears) and the submit button.
import { Button } from "./Button";

export function FormError({ message }: { message?: string | undefined }) {
  if (!message) return null;
  return (
    <p
      role="alert"
      className="rounded-md border border-red-300 bg-red-50 px-3 py-2 text-sm text-red-900 dark:border-red-800 dark:bg-red-950 dark:text-red-100"
    >
      {message}
    </p>
  );
}

export function FormActions({ error, submit, busy }: { error?: string | undefined; submit: string; busy: boolean }) {
  return (
    <>
      <FormError message={error} />
      <div className="flex justify-end">
        <Button type="submit" variant="primary" disabled={busy}>
          {submit}
        </Button>
      </div>
    </>
  );
}
