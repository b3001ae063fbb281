// The rate-limits editor: the store (memory or Redis), the window of rpm
// and tpm, the global limits, and one row per provider, upstream model,
// user or key (by its visible prefix) with its rpm, tpm and concurrent
// requests. Saving sends the whole `rate_limits` section. Viewers see it
// read only.
import { zodResolver } from "@hookform/resolvers/zod";
import { useFieldArray, useForm, type Path } from "react-hook-form";
import { useTranslation } from "react-i18next";
import { useUpdateSettings, type Settings } from "../../api/settings";
import { Button } from "../../components/Button";
import { FormError } from "../../components/FormError";
import { Card } from "../../components/Page";
import { useToast } from "../../components/Toast";
import { applyServerError } from "../../lib/forms";
import { BackendFields, CellInput, CellSelect, GeneralField, RowTable, SaveBar, errorOf } from "./LimitsFields";
import {
  LIMIT_FIELDS,
  LIMIT_SCOPES,
  RATE_GENERAL,
  emptyLimitRow,
  rateLimitsField,
  rateLimitsPatch,
  rateLimitsSchema,
  rateLimitsValues,
  type RateLimitsValues,
} from "./limitsSchema";

/** Every form field a server error may name. */
function fieldsOf(values: RateLimitsValues): Path<RateLimitsValues>[] {
  const out: Path<RateLimitsValues>[] = [...RATE_GENERAL];
  values.rows.forEach((_, i) => {
    out.push(`rows.${i}.name`);
    for (const f of LIMIT_FIELDS) out.push(`rows.${i}.${f}`);
  });
  return out;
}

export function RateLimitsForm({ settings, canWrite }: { settings: Settings; canWrite: boolean }) {
  const { t } = useTranslation();
  const toast = useToast();
  const update = useUpdateSettings();
  const form = useForm<RateLimitsValues>({
    resolver: zodResolver(rateLimitsSchema),
    defaultValues: rateLimitsValues(settings.rate_limits),
    mode: "onChange",
  });
  const rows = useFieldArray({ control: form.control, name: "rows" });
  const { errors, isSubmitting, isDirty } = form.formState;
  const title = t("limitsPage.rate.title");

  const submit = form.handleSubmit(async (values) => {
    try {
      const saved = await update.mutateAsync({ rate_limits: rateLimitsPatch(values) });
      form.reset(rateLimitsValues(saved.rate_limits));
      toast.show(t("limitsPage.rate.saved"));
    } catch (e) {
      applyServerError(e, form.setError, fieldsOf(values), (f) => rateLimitsField(f, values.rows));
    }
  });

  const cell = (i: number, name: string) => `limit-${rows.fields[i]?.id ?? i}-${name}`;
  const rowLabel = (i: number, field: string) => t("limitsPage.rate.rowLabel", { field, n: i + 1 });
  const limitLabel = (f: (typeof LIMIT_FIELDS)[number]) => t(`limitsPage.rate.columns.${f}`);

  return (
    <Card title={title}>
      <p className="mb-4 text-sm text-zinc-600 dark:text-zinc-400">{t("limitsPage.rate.about")}</p>
      <form onSubmit={submit} noValidate aria-label={title}>
        <fieldset disabled={!canWrite} className="min-w-0 space-y-5">
          <div className="grid gap-4 sm:grid-cols-2">
            <BackendFields
              form={form}
              prefix="gproxy:rl:"
              extra={
                <GeneralField
                  form={form}
                  name="slot_ttl_secs"
                  fallback="900"
                  numeric
                  hint={t("limitsPage.hints.slot_ttl_secs")}
                />
              }
            />
            <GeneralField
              form={form}
              name="window_secs"
              fallback="60"
              numeric
              hint={t("limitsPage.hints.window_secs")}
            />
          </div>
          <fieldset className="grid min-w-0 gap-4 sm:grid-cols-3">
            <legend className="mb-2 text-sm font-medium text-zinc-800 dark:text-zinc-200">
              {t("limitsPage.rate.global")}
            </legend>
            {LIMIT_FIELDS.map((f) => (
              <GeneralField key={f} form={form} name={`global.${f}`} numeric />
            ))}
          </fieldset>
          <div className="space-y-2">
            <h3 className="text-sm font-medium text-zinc-800 dark:text-zinc-200">{t("limitsPage.rate.rows")}</h3>
            <p className="text-xs text-zinc-600 dark:text-zinc-400">{t("limitsPage.rate.rowsHint")}</p>
            {rows.fields.length === 0 ? (
              <p className="text-sm text-zinc-600 dark:text-zinc-400">{t("limitsPage.rate.noRows")}</p>
            ) : (
              <RowTable
                label={t("limitsPage.rate.rows")}
                headers={[t("limitsPage.columns.kind"), t("limitsPage.columns.name"), ...LIMIT_FIELDS.map(limitLabel)]}
              >
                {rows.fields.map((field, i) => (
                  <tr key={field.id} className="align-top">
                    <td className="min-w-28 p-1">
                      <CellSelect
                        id={cell(i, "kind")}
                        label={rowLabel(i, t("limitsPage.columns.kind"))}
                        {...form.register(`rows.${i}.kind`)}
                      >
                        {LIMIT_SCOPES.map((k) => (
                          <option key={k} value={k}>
                            {t(`limitsPage.kinds.${k}`)}
                          </option>
                        ))}
                      </CellSelect>
                    </td>
                    <td className="min-w-36 p-1">
                      <CellInput
                        id={cell(i, "name")}
                        label={rowLabel(i, t("limitsPage.columns.name"))}
                        error={errorOf(form, `rows.${i}.name`)}
                        {...form.register(`rows.${i}.name`)}
                      />
                    </td>
                    {LIMIT_FIELDS.map((f) => (
                      <td key={f} className="min-w-24 p-1">
                        <CellInput
                          id={cell(i, f)}
                          label={rowLabel(i, limitLabel(f))}
                          inputMode="numeric"
                          error={errorOf(form, `rows.${i}.${f}`)}
                          {...form.register(`rows.${i}.${f}`)}
                        />
                      </td>
                    ))}
                    <td className="p-1">
                      {canWrite ? (
                        <Button
                          size="sm"
                          variant="ghost"
                          onClick={() => rows.remove(i)}
                          aria-label={t("limitsPage.rate.remove", { n: i + 1 })}
                        >
                          ✕
                        </Button>
                      ) : null}
                    </td>
                  </tr>
                ))}
              </RowTable>
            )}
            {canWrite ? (
              <Button size="sm" onClick={() => rows.append(emptyLimitRow())}>
                {t("limitsPage.rate.add")}
              </Button>
            ) : null}
          </div>
        </fieldset>
        <FormError message={errors.root?.server?.message} />
        {canWrite ? (
          <SaveBar label={t("limitsPage.rate.save")} idle={!isDirty || isSubmitting} onReset={() => form.reset()} />
        ) : null}
      </form>
    </Card>
  );
}
