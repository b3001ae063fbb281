// One settings section as a form: its fields rendered from their specs,
// checked as you type, saved alone (`PATCH /settings` with that section).
// Viewers see the values with every control disabled and no save button.
import { zodResolver } from "@hookform/resolvers/zod";
import { useForm } from "react-hook-form";
import { useTranslation } from "react-i18next";
import { ApiError } from "../../api/errors";
import { useUpdateSettings, type Settings } from "../../api/settings";
import { Button } from "../../components/Button";
import { Checkbox, Field, FieldError, Input, Select, Textarea } from "../../components/Field";
import { FormError } from "../../components/FormError";
import { Card } from "../../components/Page";
import { useToast } from "../../components/Toast";
import { errorMessage } from "../../api/errors";
import {
  FIELDS,
  formField,
  sectionSchema,
  toPatch,
  valuesOf,
  type Section,
  type SectionValues,
} from "./settingsSchema";

interface Props {
  section: Section;
  settings: Settings;
  canWrite: boolean;
}

export function SettingsSection({ section, settings, canWrite }: Props) {
  const { t } = useTranslation();
  const toast = useToast();
  const update = useUpdateSettings();
  const form = useForm<SectionValues>({
    resolver: zodResolver(sectionSchema(section)),
    defaultValues: valuesOf(settings, section),
    mode: "onChange",
  });
  const { errors, isSubmitting, isDirty } = form.formState;
  const label = (name: string) => t(`settings.fields.${section}.${name}`);
  const hint = (name: string) => t(`settings.hints.${section}.${name}`, { defaultValue: "" }) || undefined;
  const fieldError = (name: string) => {
    const e = errors[name]?.message;
    return typeof e === "string" ? e : undefined;
  };

  const submit = form.handleSubmit(async (values) => {
    try {
      const saved = await update.mutateAsync(toPatch(section, values, form.formState.dirtyFields.proxy === true));
      form.reset(valuesOf(saved, section));
      toast.show(t("settings.saved", { section: t(`settings.sections.${section}`) }));
    } catch (e) {
      const field = e instanceof ApiError && e.field ? formField(section, e.field) : null;
      if (field && FIELDS[section].some((f) => f.name === field)) {
        form.setError(field, { type: "server", message: errorMessage(e) });
      } else {
        form.setError("root.server", { type: "server", message: errorMessage(e) });
      }
    }
  });

  return (
    <Card title={t(`settings.sections.${section}`)}>
      <p className="mb-4 text-sm text-zinc-600 dark:text-zinc-400">{t(`settings.about.${section}`)}</p>
      <form onSubmit={submit} noValidate aria-label={t(`settings.sections.${section}`)}>
        <fieldset disabled={!canWrite} className="grid gap-4 sm:grid-cols-2">
          {FIELDS[section].map((f) => {
            if (f.kind === "bool") {
              return (
                <div key={f.name} className="sm:col-span-2">
                  <Checkbox label={label(f.name)} {...form.register(f.name)} />
                  {hint(f.name) ? (
                    <p className="mt-1 ml-6 text-xs text-zinc-600 dark:text-zinc-400">{hint(f.name)}</p>
                  ) : null}
                  <FieldError id={`${section}-${f.name}-error`} message={fieldError(f.name)} />
                </div>
              );
            }
            return (
              <div key={f.name} className={f.kind === "lines" || section === "proxy" ? "sm:col-span-2" : ""}>
                <Field label={label(f.name)} error={fieldError(f.name)} hint={hint(f.name)}>
                  {(p) =>
                    f.kind === "select" ? (
                      <Select {...p} {...form.register(f.name)}>
                        {f.options.map((o) => (
                          <option key={o} value={o}>
                            {o}
                          </option>
                        ))}
                      </Select>
                    ) : f.kind === "lines" ? (
                      <Textarea {...p} rows={4} {...form.register(f.name)} />
                    ) : (
                      <Input
                        {...p}
                        inputMode={f.kind === "int" ? "numeric" : undefined}
                        autoComplete="off"
                        {...form.register(f.name)}
                      />
                    )
                  }
                </Field>
              </div>
            );
          })}
        </fieldset>
        <FormError message={errors.root?.server?.message} />
        {canWrite ? (
          <div className="mt-4 flex justify-end gap-2">
            <Button disabled={!isDirty || isSubmitting} onClick={() => form.reset()}>
              {t("settings.reset")}
            </Button>
            <Button type="submit" variant="primary" disabled={!isDirty || isSubmitting}>
              {t("common.save")}
            </Button>
          </div>
        ) : null}
      </form>
    </Card>
  );
}
