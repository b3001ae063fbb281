// Form fields: a label, the control, a hint and the error right under it.
// The control gets `aria-invalid` and `aria-describedby` pointing at the
// error, so screen readers announce it with the field.
import { useId, type ComponentProps, type ReactNode } from "react";
import { useTranslation } from "react-i18next";

const CONTROL =
  "block w-full rounded-md border border-zinc-300 bg-white px-3 py-2 text-sm text-zinc-900 shadow-sm placeholder:text-zinc-500 focus:border-indigo-500 focus:outline-2 focus:outline-indigo-500 aria-[invalid=true]:border-red-600 dark:border-zinc-600 dark:bg-zinc-900 dark:text-zinc-100 dark:placeholder:text-zinc-400";

/** The error under a field; `message` is an i18n key or a server text. */
export function FieldError({
  id,
  message,
  values,
}: {
  id: string;
  message?: string | undefined;
  values?: Record<string, string> | undefined;
}) {
  const { t } = useTranslation();
  if (!message) return null;
  return (
    <p id={id} role="alert" className="mt-1 text-sm text-red-700 dark:text-red-400">
      {t(message, { defaultValue: message, ...values })}
    </p>
  );
}

interface FieldProps {
  label: string;
  error?: string | undefined;
  errorValues?: Record<string, string> | undefined;
  hint?: ReactNode;
  children: (props: { id: string; "aria-invalid": boolean; "aria-describedby"?: string }) => ReactNode;
}

/** A labelled control; `children` renders the control with the ids given. */
export function Field({ label, error, errorValues, hint, children }: FieldProps) {
  const id = useId();
  const errorId = `${id}-error`;
  const hintId = `${id}-hint`;
  const describedBy = [error ? errorId : null, hint ? hintId : null].filter(Boolean).join(" ");
  return (
    <div>
      <label htmlFor={id} className="mb-1 block text-sm font-medium text-zinc-800 dark:text-zinc-200">
        {label}
      </label>
      {children({ id, "aria-invalid": Boolean(error), ...(describedBy ? { "aria-describedby": describedBy } : {}) })}
      {hint ? (
        <p id={hintId} className="mt-1 text-xs text-zinc-600 dark:text-zinc-400">
          {hint}
        </p>
      ) : null}
      <FieldError id={errorId} message={error} values={errorValues} />
    </div>
  );
}

export function Input({ className = "", ...rest }: ComponentProps<"input">) {
  return <input className={`${CONTROL} ${className}`} {...rest} />;
}

export function Textarea({ className = "", ...rest }: ComponentProps<"textarea">) {
  return <textarea className={`${CONTROL} font-mono ${className}`} {...rest} />;
}

export function Select({ className = "", ...rest }: ComponentProps<"select">) {
  return <select className={`${CONTROL} ${className}`} {...rest} />;
}

/** A checkbox with its label beside it. */
export function Checkbox({ label, className = "", ...rest }: ComponentProps<"input"> & { label: string }) {
  const id = useId();
  return (
    <div className={`flex items-center gap-2 ${className}`}>
      <input id={id} type="checkbox" className="size-4 rounded border-zinc-400 accent-indigo-600" {...rest} />
      <label htmlFor={id} className="text-sm text-zinc-800 dark:text-zinc-200">
        {label}
      </label>
    </div>
  );
}
