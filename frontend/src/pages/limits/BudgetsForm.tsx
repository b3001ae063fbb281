// The budgets editor: the store (memory or Redis), the time zone periods
// are aligned in, the reservation and pricing policies, and one row per
// user or key (by its visible prefix) with its amounts per period and the
// warning threshold. Saving sends the whole `budgets` section. Viewers see
// it read only.
import { zodResolver } from "@hookform/resolvers/zod";
import { useMemo } from "react";
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
  AMOUNT_FIELDS,
  BUDGET_GENERAL,
  BUDGET_KINDS,
  UNPRICED,
  budgetsField,
  budgetsPatch,
  budgetsSchema,
  budgetsValues,
  emptyBudgetRow,
  type BudgetsValues,
} from "./limitsSchema";

/** Every form field a server error may name. */
function fieldsOf(values: BudgetsValues): Path<BudgetsValues>[] {
  const out: Path<BudgetsValues>[] = [...BUDGET_GENERAL];
  values.rows.forEach((_, i) => {
    out.push(`rows.${i}.name`, `rows.${i}.warn_at_percent`);
    for (const f of AMOUNT_FIELDS) out.push(`rows.${i}.${f}`);
  });
  return out;
}

/** The IANA zone names this browser knows, for the time-zone box. */
function timeZones(): string[] {
  try {
    return ["UTC", ...Intl.supportedValuesOf("timeZone")];
  } catch {
    return ["UTC"];
  }
}

export function BudgetsForm({ settings, canWrite }: { settings: Settings; canWrite: boolean }) {
  const { t } = useTranslation();
  const toast = useToast();
  const update = useUpdateSettings();
  const form = useForm<BudgetsValues>({
    resolver: zodResolver(budgetsSchema),
    defaultValues: budgetsValues(settings.budgets),
    mode: "onChange",
  });
  const rows = useFieldArray({ control: form.control, name: "rows" });
  const { errors, isSubmitting, isDirty } = form.formState;
  const zones = useMemo(() => timeZones(), []);
  const title = t("limitsPage.budgets.title");

  const submit = form.handleSubmit(async (values) => {
    try {
      const saved = await update.mutateAsync({ budgets: budgetsPatch(values) });
      form.reset(budgetsValues(saved.budgets));
      toast.show(t("limitsPage.budgets.saved"));
    } catch (e) {
      applyServerError(e, form.setError, fieldsOf(values), (f) => budgetsField(f, values.rows));
    }
  });

  const cell = (i: number, name: string) => `budget-${rows.fields[i]?.id ?? i}-${name}`;
  const rowLabel = (i: number, field: string) => t("limitsPage.budgets.rowLabel", { field, n: i + 1 });
  const amountLabel = (f: (typeof AMOUNT_FIELDS)[number]) => t(`limitsPage.budgets.columns.${f}`);

  return (
    <Card title={title}>
      <p className="mb-4 text-sm text-zinc-600 dark:text-zinc-400">{t("limitsPage.budgets.about")}</p>
      <form onSubmit={submit} noValidate aria-label={title}>
        <fieldset disabled={!canWrite} className="min-w-0 space-y-5">
          <div className="grid gap-4 sm:grid-cols-2">
            <BackendFields form={form} prefix="gproxy:budget:" />
            <GeneralField form={form} name="timezone" fallback="UTC" list="budget-zones" />
            <datalist id="budget-zones">
              {zones.map((z) => (
                <option key={z} value={z} />
              ))}
            </datalist>
            <GeneralField
              form={form}
              name="default_output_tokens"
              fallback="4096"
              numeric
              hint={t("limitsPage.hints.default_output_tokens")}
            />
            <GeneralField
              form={form}
              name="unpriced"
              options={UNPRICED}
              fallback="refuse"
              hint={t("limitsPage.hints.unpriced")}
            />
            <GeneralField form={form} name="passthrough_cost_usd" hint={t("limitsPage.hints.passthrough_cost_usd")} />
          </div>
          <div className="space-y-2">
            <h3 className="text-sm font-medium text-zinc-800 dark:text-zinc-200">{t("limitsPage.budgets.rows")}</h3>
            <p className="text-xs text-zinc-600 dark:text-zinc-400">{t("limitsPage.budgets.rowsHint")}</p>
            {rows.fields.length === 0 ? (
              <p className="text-sm text-zinc-600 dark:text-zinc-400">{t("limitsPage.budgets.noRows")}</p>
            ) : (
              <RowTable
                label={t("limitsPage.budgets.rows")}
                headers={[
                  t("limitsPage.columns.kind"),
                  t("limitsPage.columns.name"),
                  ...AMOUNT_FIELDS.map(amountLabel),
                  t("limitsPage.budgets.columns.warn_at_percent"),
                ]}
              >
                {rows.fields.map((field, i) => {
                  return (
                    <tr key={field.id} className="align-top">
                      <td className="min-w-28 p-1">
                        <CellSelect
                          id={cell(i, "kind")}
                          label={rowLabel(i, t("limitsPage.columns.kind"))}
                          {...form.register(`rows.${i}.kind`)}
                        >
                          {BUDGET_KINDS.map((k) => (
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
                      {AMOUNT_FIELDS.map((f) => (
                        <td key={f} className="min-w-24 p-1">
                          <CellInput
                            id={cell(i, f)}
                            label={rowLabel(i, amountLabel(f))}
                            inputMode="decimal"
                            error={errorOf(form, `rows.${i}.${f}`)}
                            {...form.register(`rows.${i}.${f}`)}
                          />
                        </td>
                      ))}
                      <td className="min-w-20 p-1">
                        <CellInput
                          id={cell(i, "warn")}
                          label={rowLabel(i, t("limitsPage.budgets.columns.warn_at_percent"))}
                          inputMode="numeric"
                          error={errorOf(form, `rows.${i}.warn_at_percent`)}
                          {...form.register(`rows.${i}.warn_at_percent`)}
                        />
                      </td>
                      <td className="p-1">
                        {canWrite ? (
                          <Button
                            size="sm"
                            variant="ghost"
                            onClick={() => rows.remove(i)}
                            aria-label={t("limitsPage.budgets.remove", { n: i + 1 })}
                          >
                            ✕
                          </Button>
                        ) : null}
                      </td>
                    </tr>
                  );
                })}
              </RowTable>
            )}
            {canWrite ? (
              <Button size="sm" onClick={() => rows.append(emptyBudgetRow())}>
                {t("limitsPage.budgets.add")}
              </Button>
            ) : null}
          </div>
        </fieldset>
        <FormError message={errors.root?.server?.message} />
        {canWrite ? (
          <SaveBar label={t("limitsPage.budgets.save")} idle={!isDirty || isSubmitting} onReset={() => form.reset()} />
        ) : null}
      </form>
    </Card>
  );
}
