// Create a key (label, scope, expiry, allow-lists, cost ceiling) or change
// one. An empty allow-list means "any"; expiry must lie in the future; an
// empty ceiling means none.
import { zodResolver } from "@hookform/resolvers/zod";
import { useForm } from "react-hook-form";
import { useTranslation } from "react-i18next";
import { z } from "zod";
import { useCreateKey, useUpdateKey, type Key, type KeyCreated, type KeyOwner } from "../../api/users";
import { Checkbox, Field, Input, Select, Textarea } from "../../components/Field";
import { FormActions } from "../../components/FormError";
import { applyServerError } from "../../lib/forms";
import { isoToLocalInput, lines, localInputToIso } from "../../lib/format";
import { NAME_PATTERN } from "../../lib/validation";

export const keySchema = z
  .object({
    label: z.string().max(128, { message: "validation.labelLong" }),
    scope: z.enum(["proxy", "admin"]),
    expires: z.string(),
    providers: z.string(),
    models: z.string(),
    maxCost: z.string().regex(/^\s*(\d+(\.\d{1,9})?)?\s*$/, { message: "validation.usd" }),
    enabled: z.boolean(),
  })
  .superRefine((v, ctx) => {
    if (v.expires) {
      const iso = localInputToIso(v.expires);
      if (!iso) ctx.addIssue({ code: "custom", path: ["expires"], message: "validation.date" });
      else if (new Date(iso).getTime() <= Date.now())
        ctx.addIssue({ code: "custom", path: ["expires"], message: "validation.future" });
    }
    const bad = lines(v.providers).find((p) => !NAME_PATTERN.test(p));
    if (bad) ctx.addIssue({ code: "custom", path: ["providers"], message: "validation.providerName" });
  });

type Values = z.infer<typeof keySchema>;

interface Props {
  owner: KeyOwner;
  keyRow?: Key | undefined;
  onCreated: (k: KeyCreated) => void;
  onSaved: (k: Key) => void;
}

export function KeyForm({ owner, keyRow, onCreated, onSaved }: Props) {
  const { t } = useTranslation();
  const create = useCreateKey(owner);
  const update = useUpdateKey(owner);
  const form = useForm<Values>({
    resolver: zodResolver(keySchema),
    defaultValues: {
      label: keyRow?.label ?? "",
      scope: keyRow?.scope === "admin" ? "admin" : "proxy",
      expires: isoToLocalInput(keyRow?.expires_at),
      providers: (keyRow?.allowed_providers ?? []).join("\n"),
      models: (keyRow?.allowed_models ?? []).join("\n"),
      maxCost: keyRow?.max_cost ?? "",
      enabled: keyRow?.enabled ?? true,
    },
  });
  const { errors, isSubmitting } = form.formState;
  const submit = form.handleSubmit(async (v) => {
    const providers = lines(v.providers);
    const models = lines(v.models);
    const common = {
      label: v.label.trim() || null,
      expires_at: localInputToIso(v.expires),
      allowed_providers: providers.length ? providers : null,
      allowed_models: models.length ? models : null,
      max_cost: v.maxCost.trim() || null,
    };
    try {
      if (keyRow) onSaved(await update.mutateAsync({ id: keyRow.id, patch: { ...common, enabled: v.enabled } }));
      else onCreated(await create.mutateAsync({ ...common, scope: v.scope }));
    } catch (e) {
      applyServerError(e, form.setError, ["label", "expires", "providers", "models", "maxCost", "scope"], (f) =>
        f === "expires_at"
          ? "expires"
          : f === "max_cost"
            ? "maxCost"
            : f.startsWith("allowed_providers")
              ? "providers"
              : f.startsWith("allowed_models")
                ? "models"
                : f,
      );
    }
  });
  return (
    <form onSubmit={submit} noValidate className="space-y-4">
      <Field label={t("keys.label")} error={errors.label?.message}>
        {(p) => <Input {...p} autoFocus {...form.register("label")} />}
      </Field>
      {!keyRow ? (
        <Field label={t("keys.scope")} error={errors.scope?.message} hint={t("keys.scopeHint")}>
          {(p) => (
            <Select {...p} {...form.register("scope")}>
              <option value="proxy">{t("keys.scopes.proxy")}</option>
              <option value="admin">{t("keys.scopes.admin")}</option>
            </Select>
          )}
        </Field>
      ) : null}
      <Field label={t("keys.expires")} error={errors.expires?.message} hint={t("keys.expiresHint")}>
        {(p) => <Input {...p} type="datetime-local" {...form.register("expires")} />}
      </Field>
      <div className="grid gap-4 sm:grid-cols-2">
        <Field label={t("keys.providers")} error={errors.providers?.message} hint={t("keys.providersHint")}>
          {(p) => <Textarea {...p} rows={3} {...form.register("providers")} />}
        </Field>
        <Field label={t("keys.models")} error={errors.models?.message} hint={t("keys.modelsHint")}>
          {(p) => <Textarea {...p} rows={3} {...form.register("models")} />}
        </Field>
      </div>
      <Field label={t("keys.maxCost")} error={errors.maxCost?.message} hint={t("keys.maxCostHint")}>
        {(p) => <Input {...p} inputMode="decimal" {...form.register("maxCost")} />}
      </Field>
      {keyRow ? <Checkbox label={t("keys.enabledLabel")} {...form.register("enabled")} /> : null}
      <FormActions
        error={errors.root?.server?.message}
        submit={keyRow ? t("common.save") : t("keys.create")}
        busy={isSubmitting}
      />
    </form>
  );
}
