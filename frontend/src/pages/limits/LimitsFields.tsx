// Pieces both limit editors share: a general field (text, number or a
// select whose empty choice is the gateway's default), the backend and
// Redis fields, and a cell of a row table with its label for screen
// readers and its error under it.
import type { ComponentProps, ReactNode } from "react";
import { get, useWatch, type FieldValues, type Path, type UseFormReturn } from "react-hook-form";
import { useTranslation } from "react-i18next";
import { Button } from "../../components/Button";
import { Field, FieldError, Input, Select } from "../../components/Field";
import { BACKENDS, ON_REDIS_ERROR } from "./limitsSchema";

/** A field's error message (an i18n key or the server's text), if any. */
export function errorOf<T extends FieldValues>(form: UseFormReturn<T>, name: string): string | undefined {
  const error = get(form.formState.errors, name) as { message?: unknown } | undefined;
  return typeof error?.message === "string" ? error.message : undefined;
}

interface GeneralProps<T extends FieldValues> {
  form: UseFormReturn<T>;
  name: string;
  /** Select choices; "" is the default, shown as `Default (<fallback>)`. */
  options?: readonly string[];
  /** The gateway's default: the select's default label, or the text box's placeholder. */
  fallback?: string;
  numeric?: boolean;
  hint?: ReactNode;
  list?: string;
}

/** One labelled field of the section (`limitsPage.fields.<name>`). */
export function GeneralField<T extends FieldValues>({
  form,
  name,
  options,
  fallback,
  numeric,
  hint,
  list,
}: GeneralProps<T>) {
  const { t } = useTranslation();
  const field = form.register(name as Path<T>);
  return (
    <Field label={t(`limitsPage.fields.${name}`)} error={errorOf(form, name)} hint={hint}>
      {(p) =>
        options ? (
          <Select {...p} {...field}>
            {options.map((o) => (
              <option key={o} value={o}>
                {o === "" ? t("limitsPage.default", { value: fallback ?? "" }) : o}
              </option>
            ))}
          </Select>
        ) : (
          <Input
            {...p}
            {...field}
            list={list}
            placeholder={fallback}
            inputMode={numeric ? "numeric" : undefined}
            autoComplete="off"
          />
        )
      }
    </Field>
  );
}

/** The backend select and, with the redis backend only, the Redis fields
 * (`extra`: the section's own Redis-only fields). */
export function BackendFields<T extends FieldValues>({
  form,
  prefix,
  extra,
}: {
  form: UseFormReturn<T>;
  /** The section's default Redis key prefix. */
  prefix: string;
  extra?: ReactNode;
}) {
  const { t } = useTranslation();
  const backend: unknown = useWatch({ control: form.control, name: "backend" as Path<T> });
  return (
    <>
      <GeneralField
        form={form}
        name="backend"
        options={BACKENDS}
        fallback="memory"
        hint={t("limitsPage.hints.backend")}
      />
      {backend === "redis" ? (
        <>
          <GeneralField form={form} name="redis_url" fallback="redis://127.0.0.1:6379" />
          <GeneralField form={form} name="redis_prefix" fallback={prefix} />
          <GeneralField
            form={form}
            name="on_redis_error"
            options={ON_REDIS_ERROR}
            fallback="open"
            hint={t("limitsPage.hints.on_redis_error")}
          />
          <GeneralField form={form} name="redis_timeout_ms" fallback="250" numeric />
          {extra}
        </>
      ) : null}
    </>
  );
}

/** An input in a row table: labelled for screen readers (the column
 * header says it to the eye), its error under it. */
export function CellInput({
  id,
  label,
  error,
  ...rest
}: ComponentProps<"input"> & { id: string; label: string; error: string | undefined }) {
  return (
    <>
      <label className="sr-only" htmlFor={id}>
        {label}
      </label>
      <Input
        id={id}
        autoComplete="off"
        aria-invalid={Boolean(error)}
        aria-describedby={error ? `${id}-error` : undefined}
        {...rest}
      />
      <FieldError id={`${id}-error`} message={error} />
    </>
  );
}

/** A select in a row table, labelled for screen readers. */
export function CellSelect({ id, label, ...rest }: ComponentProps<"select"> & { id: string; label: string }) {
  return (
    <>
      <label className="sr-only" htmlFor={id}>
        {label}
      </label>
      <Select id={id} {...rest} />
    </>
  );
}

/** A row table's frame: the column headers (the last one, over the
 * rows' remove buttons, for screen readers only), then the rows. It
 * scrolls sideways on its own; being positioned, it also holds the cells'
 * absolutely placed screen-reader labels, which would widen the page. */
export function RowTable({ label, headers, children }: { label: string; headers: string[]; children: ReactNode }) {
  const { t } = useTranslation();
  return (
    <div className="relative overflow-x-auto">
      <table className="min-w-full text-sm">
        <caption className="sr-only">{label}</caption>
        <thead>
          <tr>
            {headers.map((h, i) => (
              <th
                key={i}
                scope="col"
                className="px-1 pb-1 text-left font-medium whitespace-nowrap text-zinc-700 dark:text-zinc-300"
              >
                {h}
              </th>
            ))}
            <th scope="col">
              <span className="sr-only">{t("common.actions")}</span>
            </th>
          </tr>
        </thead>
        <tbody>{children}</tbody>
      </table>
    </div>
  );
}

/** A form's reset and save buttons, both off while `idle` (nothing
 * changed, or a save is under way). */
export function SaveBar({ label, idle, onReset }: { label: string; idle: boolean; onReset: () => void }) {
  const { t } = useTranslation();
  return (
    <div className="mt-4 flex justify-end gap-2">
      <Button disabled={idle} onClick={onReset}>
        {t("settings.reset")}
      </Button>
      <Button type="submit" variant="primary" disabled={idle}>
        {label}
      </Button>
    </div>
  );
}
