// Add a credential to a provider, or edit one (name, weight, enabled, a
// replacement secret). The secret field is write-only: it starts empty and
// an empty value leaves the stored secret as it is.
import { zodResolver } from "@hookform/resolvers/zod";
import { useForm } from "react-hook-form";
import { useTranslation } from "react-i18next";
import { z } from "zod";
import { useCreateCredential, useUpdateCredential, type Credential } from "../../api/credentials";
import { Checkbox, Field, Input, Textarea } from "../../components/Field";
import { FormActions } from "../../components/FormError";
import { applyServerError } from "../../lib/forms";
import { NAME_PATTERN } from "../../lib/validation";

export function credentialSchema(editing: boolean, serviceAccount: boolean) {
  return z
    .object({
      name: z.string(),
      secret: z.string(),
      weight: z
        .number({ message: "validation.weight" })
        .int({ message: "validation.weight" })
        .min(1, { message: "validation.weight" }),
      enabled: z.boolean(),
    })
    .superRefine((v, ctx) => {
      if (v.name && !NAME_PATTERN.test(v.name))
        ctx.addIssue({ code: "custom", path: ["name"], message: "validation.name" });
      if (!editing && !v.secret.trim())
        ctx.addIssue({ code: "custom", path: ["secret"], message: "validation.required" });
      if (serviceAccount && v.secret.trim()) {
        try {
          const parsed: unknown = JSON.parse(v.secret);
          if (typeof parsed !== "object" || parsed === null) throw new Error("not an object");
        } catch {
          ctx.addIssue({ code: "custom", path: ["secret"], message: "validation.serviceAccount" });
        }
      }
    });
}

type Values = z.infer<ReturnType<typeof credentialSchema>>;

interface Props {
  provider: string;
  kind: string;
  credential?: Credential;
  onDone: (c: Credential) => void;
}

export function CredentialForm({ provider, kind, credential, onDone }: Props) {
  const { t } = useTranslation();
  const serviceAccount = kind === "vertex";
  // An OAuth login's tokens change only by logging in again.
  const oauth = credential?.kind === "oauth";
  const create = useCreateCredential(provider);
  const update = useUpdateCredential();
  const form = useForm<Values>({
    resolver: zodResolver(credentialSchema(Boolean(credential), serviceAccount)),
    defaultValues: {
      name: credential?.name ?? "",
      secret: "",
      weight: credential?.weight ?? 1,
      enabled: credential?.enabled ?? true,
    },
  });
  const { errors, isSubmitting } = form.formState;
  const secretField = serviceAccount ? "service_account" : "api_key";

  const submit = form.handleSubmit(async (v) => {
    const secret = v.secret.trim();
    const secretBody = secret
      ? serviceAccount
        ? { service_account: JSON.parse(secret) as unknown }
        : { api_key: secret }
      : {};
    try {
      const saved = credential
        ? await update.mutateAsync({
            id: credential.id,
            patch: { name: v.name || credential.name, weight: v.weight, enabled: v.enabled, ...secretBody },
          })
        : await create.mutateAsync({
            ...(v.name ? { name: v.name } : {}),
            weight: v.weight,
            enabled: v.enabled,
            ...secretBody,
          });
      onDone(saved);
    } catch (e) {
      applyServerError(e, form.setError, ["name", "weight", "secret"], (f) => (f === secretField ? "secret" : f));
    }
  });

  return (
    <form onSubmit={submit} noValidate className="space-y-4">
      <Field
        label={t("credentials.name")}
        error={errors.name?.message}
        hint={credential ? undefined : t("credentials.nameHint")}
      >
        {(p) => <Input {...p} autoFocus {...form.register("name")} />}
      </Field>
      {oauth ? null : (
        <Field
          label={serviceAccount ? t("credentials.serviceAccount") : t("credentials.apiKey")}
          error={errors.secret?.message}
          hint={
            credential ? t("credentials.secretKeep", { masked: credential.masked }) : t("credentials.secretWriteOnly")
          }
        >
          {(p) =>
            serviceAccount ? (
              <Textarea {...p} rows={6} {...form.register("secret")} />
            ) : (
              <Input {...p} type="password" autoComplete="off" {...form.register("secret")} />
            )
          }
        </Field>
      )}
      <Field label={t("credentials.weight")} error={errors.weight?.message} hint={t("credentials.weightHint")}>
        {(p) => <Input {...p} type="number" min={1} step={1} {...form.register("weight", { valueAsNumber: true })} />}
      </Field>
      <Checkbox label={t("credentials.enabledLabel")} {...form.register("enabled")} />
      <FormActions
        error={errors.root?.server?.message}
        submit={credential ? t("common.save") : t("credentials.add")}
        busy={isSubmitting}
      />
    </form>
  );
}
