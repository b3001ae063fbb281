// The provider editor: a new custom provider (protocol, base URL, auth
// form, headers, model allow-list, json_param_mask), or an existing
// provider's settings (built-ins take base URL, strategy, headers, models
// and mask as overrides). Errors show next to their field as you type; the
// API's own field errors land on the same fields.
import { zodResolver } from "@hookform/resolvers/zod";
import { useFieldArray, useForm } from "react-hook-form";
import { useTranslation } from "react-i18next";
import { useCreateProvider, useUpdateProvider, type Provider } from "../../api/providers";
import { Button } from "../../components/Button";
import { Checkbox, Field, FieldError, Input, Select, Textarea } from "../../components/Field";
import { FormActions } from "../../components/FormError";
import { applyServerError } from "../../lib/forms";
import {
  AUTHS,
  PROTOCOLS,
  STRATEGIES,
  emptyValues,
  formField,
  maskProblems,
  providerSchema,
  toInput,
  toPatch,
  valuesOf,
  type ProviderValues,
} from "./providerSchema";

type Props =
  | { mode: "create"; onDone: (p: Provider) => void; provider?: undefined }
  | { mode: "edit"; provider: Provider; onDone: (p: Provider) => void };

const FIELDS = [
  "name",
  "base_url",
  "protocol",
  "auth",
  "count_tokens",
  "headers",
  "models",
  "json_param_mask",
  "credential_strategy",
] as const;

export function ProviderForm(props: Props) {
  const { t } = useTranslation();
  const kind = props.mode === "create" ? "custom" : props.provider.kind;
  const custom = kind === "custom";
  const create = useCreateProvider();
  const update = useUpdateProvider(props.provider?.name ?? "");
  const form = useForm<ProviderValues>({
    resolver: zodResolver(providerSchema(props.mode, kind)),
    defaultValues: props.mode === "create" ? emptyValues() : valuesOf(props.provider),
    mode: "onChange",
  });
  const headers = useFieldArray({ control: form.control, name: "headers" });
  const { errors, isSubmitting } = form.formState;
  // eslint-disable-next-line react-hooks/incompatible-library -- watch() is react-hook-form's live value
  const mask = form.watch("json_param_mask");
  const problems = maskProblems(mask);

  const submit = form.handleSubmit(async (values) => {
    try {
      const saved =
        props.mode === "create"
          ? await create.mutateAsync(toInput(values))
          : await update.mutateAsync(toPatch(values, kind));
      props.onDone(saved);
    } catch (e) {
      applyServerError(e, form.setError, FIELDS, formField);
    }
  });

  return (
    <form onSubmit={submit} noValidate className="space-y-4">
      {props.mode === "create" ? (
        <Field label={t("providers.name")} error={errors.name?.message} hint={t("providers.nameHint")}>
          {(p) => <Input {...p} autoFocus {...form.register("name")} />}
        </Field>
      ) : null}
      <Field
        label={t("providers.baseUrl")}
        error={errors.base_url?.message}
        hint={
          custom
            ? t("providers.baseUrlHintCustom")
            : t("providers.baseUrlHint", { url: props.provider?.effective_base_url ?? "" })
        }
      >
        {(p) => (
          <Input
            {...p}
            type="url"
            inputMode="url"
            placeholder="https://api.example.com/v1"
            {...form.register("base_url")}
          />
        )}
      </Field>
      {custom ? (
        <div className="grid gap-4 sm:grid-cols-3">
          <Field label={t("providers.protocol")} error={errors.protocol?.message}>
            {(p) => (
              <Select {...p} {...form.register("protocol")}>
                {PROTOCOLS.map((v) => (
                  <option key={v} value={v}>
                    {t(`protocols.${v}`)}
                  </option>
                ))}
              </Select>
            )}
          </Field>
          <Field label={t("providers.auth")} error={errors.auth?.message}>
            {(p) => (
              <Select {...p} {...form.register("auth")}>
                <option value="">{t("providers.authDefault")}</option>
                {AUTHS.map((v) => (
                  <option key={v} value={v}>
                    {t(`providers.authForms.${v}`)}
                  </option>
                ))}
              </Select>
            )}
          </Field>
          <Field label={t("providers.countTokens")} error={errors.count_tokens?.message}>
            {(p) => (
              <Select {...p} {...form.register("count_tokens")}>
                <option value="upstream">{t("providers.countUpstream")}</option>
                <option value="local">{t("providers.countLocal")}</option>
              </Select>
            )}
          </Field>
        </div>
      ) : null}
      <Field label={t("providers.strategy")} error={errors.credential_strategy?.message}>
        {(p) => (
          <Select {...p} {...form.register("credential_strategy")}>
            {STRATEGIES.map((v) => (
              <option key={v} value={v}>
                {t(`providers.strategies.${v}`)}
              </option>
            ))}
          </Select>
        )}
      </Field>
      <fieldset className="space-y-2">
        <legend className="text-sm font-medium text-zinc-800 dark:text-zinc-200">{t("providers.headers")}</legend>
        <p className="text-xs text-zinc-600 dark:text-zinc-400">{t("providers.headersHint")}</p>
        {headers.fields.map((field, i) => (
          <div key={field.id} className="grid grid-cols-[1fr_1fr_auto] items-start gap-2">
            <div>
              <label className="sr-only" htmlFor={`header-name-${field.id}`}>
                {t("providers.headerName", { n: i + 1 })}
              </label>
              <Input
                id={`header-name-${field.id}`}
                placeholder={t("providers.headerNamePlaceholder")}
                aria-invalid={Boolean(errors.headers?.[i]?.name)}
                aria-describedby={errors.headers?.[i]?.name ? `header-name-${field.id}-error` : undefined}
                {...form.register(`headers.${i}.name`)}
              />
              <FieldError id={`header-name-${field.id}-error`} message={errors.headers?.[i]?.name?.message} />
            </div>
            <div>
              <label className="sr-only" htmlFor={`header-value-${field.id}`}>
                {t("providers.headerValue", { n: i + 1 })}
              </label>
              <Input
                id={`header-value-${field.id}`}
                placeholder={t("providers.headerValuePlaceholder")}
                aria-invalid={Boolean(errors.headers?.[i]?.value)}
                {...form.register(`headers.${i}.value`)}
              />
              <FieldError id={`header-value-${field.id}-error`} message={errors.headers?.[i]?.value?.message} />
            </div>
            <Button
              size="sm"
              variant="ghost"
              onClick={() => headers.remove(i)}
              aria-label={t("providers.removeHeader", { n: i + 1 })}
            >
              ✕
            </Button>
          </div>
        ))}
        <FieldError id="headers-error" message={errors.headers?.message ?? errors.headers?.root?.message} />
        <Button size="sm" onClick={() => headers.append({ name: "", value: "" })}>
          {t("providers.addHeader")}
        </Button>
      </fieldset>
      <Field label={t("providers.models")} error={errors.models?.message} hint={t("providers.modelsHint")}>
        {(p) => <Textarea {...p} rows={3} {...form.register("models")} />}
      </Field>
      <Field
        label={t("providers.mask")}
        error={problems.length > 0 ? undefined : errors.json_param_mask?.message}
        hint={t("providers.maskHint")}
      >
        {(p) => (
          <Textarea
            {...p}
            rows={3}
            aria-invalid={problems.length > 0}
            aria-describedby={problems.length > 0 ? "mask-problems" : p["aria-describedby"]}
            {...form.register("json_param_mask")}
          />
        )}
      </Field>
      {problems.length > 0 ? (
        <div id="mask-problems" role="alert" className="-mt-2 text-sm text-red-700 dark:text-red-400">
          <ul className="space-y-0.5">
            {problems.map((pr) => (
              <li key={pr.line}>
                {t("validation.mask.line", { line: pr.line, path: pr.path })} {t(pr.key, pr.values)}
              </li>
            ))}
          </ul>
        </div>
      ) : null}
      <Checkbox label={t("providers.enabledLabel")} {...form.register("enabled")} />
      <FormActions
        error={errors.root?.server?.message}
        submit={props.mode === "create" ? t("providers.create") : t("common.save")}
        busy={isSubmitting}
      />
    </form>
  );
}
