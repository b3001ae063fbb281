// The audit filters: actor, action, object kind and id, time range.
// Applied on submit; a range that ends before it starts is refused next to
// its field.
import { useState } from "react";
import { useTranslation } from "react-i18next";
import type { AuditFilters } from "../../api/audit";
import { Button } from "../../components/Button";
import { Field, Input } from "../../components/Field";
import { draftErrors, draftOf, filtersOf, type AuditDraft } from "./auditFilters";

export function AuditFiltersForm({ onChange }: { onChange: (f: AuditFilters) => void }) {
  const { t } = useTranslation();
  const [draft, setDraft] = useState<AuditDraft>(() => draftOf({}));
  const [errors, setErrors] = useState<Partial<Record<keyof AuditDraft, string>>>({});
  const set = (key: keyof AuditDraft) => (e: { target: { value: string } }) =>
    setDraft((d) => ({ ...d, [key]: e.target.value }));
  const text = (key: "actor" | "action" | "target_type" | "target_id", placeholder?: string) => (
    <Field label={t(`audit.${key}`)} error={errors[key]}>
      {(p) => <Input {...p} value={draft[key]} placeholder={placeholder} onChange={set(key)} />}
    </Field>
  );
  return (
    <form
      role="search"
      aria-label={t("audit.filters")}
      noValidate
      className="grid gap-3 rounded-lg border border-zinc-200 bg-white p-3 sm:grid-cols-2 lg:grid-cols-3 dark:border-zinc-700 dark:bg-zinc-900"
      onSubmit={(e) => {
        e.preventDefault();
        const found = draftErrors(draft);
        setErrors(found);
        if (Object.keys(found).length === 0) onChange(filtersOf(draft));
      }}
    >
      {text("actor")}
      {text("action", "provider.update")}
      {text("target_type", "provider")}
      {text("target_id")}
      <Field label={t("audit.from")} error={errors.from}>
        {(p) => <Input {...p} type="datetime-local" value={draft.from} onChange={set("from")} />}
      </Field>
      <Field label={t("audit.to")} error={errors.to}>
        {(p) => <Input {...p} type="datetime-local" value={draft.to} onChange={set("to")} />}
      </Field>
      <div className="flex items-end gap-2">
        <Button type="submit" variant="primary">
          {t("audit.apply")}
        </Button>
        <Button
          onClick={() => {
            setDraft(draftOf({}));
            setErrors({});
            onChange({});
          }}
        >
          {t("audit.reset")}
        </Button>
      </div>
    </form>
  );
}
