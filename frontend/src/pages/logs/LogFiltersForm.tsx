// The log filters: provider, model, request id, status class, user, time
// range. Applied on submit (each change would be a query).
import { useState } from "react";
import { useTranslation } from "react-i18next";
import type { LogFilters } from "../../api/logs";
import { Button } from "../../components/Button";
import { Field, Input, Select } from "../../components/Field";
import { isoToLocalInput, localInputToIso } from "../../lib/format";

interface Draft {
  provider: string;
  model: string;
  request_id: string;
  status_class: string;
  user_id: string;
  from: string;
  to: string;
}

function draftOf(f: LogFilters): Draft {
  return {
    provider: f.provider ?? "",
    model: f.model ?? "",
    request_id: f.request_id ?? "",
    status_class: f.status_class ? String(f.status_class) : "",
    user_id: f.user_id ? String(f.user_id) : "",
    from: isoToLocalInput(f.from),
    to: isoToLocalInput(f.to),
  };
}

function filtersOf(d: Draft): LogFilters {
  const text = (v: string) => v.trim() || undefined;
  const userId = Number(d.user_id);
  return {
    provider: text(d.provider),
    model: text(d.model),
    request_id: text(d.request_id),
    status_class: d.status_class ? Number(d.status_class) : undefined,
    user_id: d.user_id && Number.isInteger(userId) && userId > 0 ? userId : undefined,
    from: localInputToIso(d.from) ?? undefined,
    to: localInputToIso(d.to) ?? undefined,
  };
}

export function LogFiltersForm({
  value,
  onChange,
  showUser,
}: {
  value: LogFilters;
  onChange: (f: LogFilters) => void;
  showUser: boolean;
}) {
  const { t } = useTranslation();
  const [draft, setDraft] = useState<Draft>(() => draftOf(value));
  const set = (key: keyof Draft) => (e: { target: { value: string } }) =>
    setDraft((d) => ({ ...d, [key]: e.target.value }));
  return (
    <form
      role="search"
      aria-label={t("logs.filters")}
      className="grid gap-3 rounded-lg border border-zinc-200 bg-white p-3 sm:grid-cols-2 lg:grid-cols-4 dark:border-zinc-700 dark:bg-zinc-900"
      onSubmit={(e) => {
        e.preventDefault();
        onChange(filtersOf(draft));
      }}
    >
      <Field label={t("logs.provider")}>
        {(p) => <Input {...p} value={draft.provider} onChange={set("provider")} />}
      </Field>
      <Field label={t("logs.model")}>{(p) => <Input {...p} value={draft.model} onChange={set("model")} />}</Field>
      <Field label={t("logs.requestId")}>
        {(p) => <Input {...p} value={draft.request_id} onChange={set("request_id")} />}
      </Field>
      <Field label={t("logs.statusClass")}>
        {(p) => (
          <Select {...p} value={draft.status_class} onChange={set("status_class")}>
            <option value="">{t("logs.anyStatus")}</option>
            <option value="2">2xx</option>
            <option value="4">4xx</option>
            <option value="5">5xx</option>
          </Select>
        )}
      </Field>
      {showUser ? (
        <Field label={t("logs.userId")}>
          {(p) => <Input {...p} inputMode="numeric" value={draft.user_id} onChange={set("user_id")} />}
        </Field>
      ) : null}
      <Field label={t("logs.from")}>
        {(p) => <Input {...p} type="datetime-local" value={draft.from} onChange={set("from")} />}
      </Field>
      <Field label={t("logs.to")}>
        {(p) => <Input {...p} type="datetime-local" value={draft.to} onChange={set("to")} />}
      </Field>
      <div className="flex items-end gap-2">
        <Button type="submit" variant="primary">
          {t("logs.apply")}
        </Button>
        <Button
          onClick={() => {
            setDraft(draftOf({}));
            onChange({});
          }}
        >
          {t("logs.reset")}
        </Button>
      </div>
    </form>
  );
}
