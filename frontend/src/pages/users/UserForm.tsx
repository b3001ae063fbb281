// Create a user (name, role, optional password) or change one (role,
// enabled, a new password; a blank password leaves it as it is).
import { zodResolver } from "@hookform/resolvers/zod";
import { useForm } from "react-hook-form";
import { useTranslation } from "react-i18next";
import { z } from "zod";
import { useCreateUser, useUpdateUser, type User } from "../../api/users";
import { Checkbox, Field, Input, Select } from "../../components/Field";
import { FormActions } from "../../components/FormError";
import { applyServerError } from "../../lib/forms";
import { NAME_PATTERN, passwordSchema } from "../../lib/validation";

export const ROLES = ["admin", "viewer", "user"] as const;

export const userSchema = z
  .object({
    name: z.string(),
    role: z.enum(ROLES),
    password: z.string(),
    enabled: z.boolean(),
  })
  .superRefine((v, ctx) => {
    if (!NAME_PATTERN.test(v.name)) ctx.addIssue({ code: "custom", path: ["name"], message: "validation.name" });
    else if (v.name === "admin") ctx.addIssue({ code: "custom", path: ["name"], message: "validation.nameAdmin" });
    if (v.password) {
      const checked = passwordSchema.safeParse(v.password);
      if (!checked.success)
        ctx.addIssue({
          code: "custom",
          path: ["password"],
          message: checked.error.issues[0]?.message ?? "validation.passwordShort",
        });
    }
  });

type Values = z.infer<typeof userSchema>;

export function UserForm({ user, onDone }: { user?: User | undefined; onDone: (u: User) => void }) {
  const { t } = useTranslation();
  const create = useCreateUser();
  const update = useUpdateUser();
  const form = useForm<Values>({
    resolver: zodResolver(userSchema),
    defaultValues: { name: user?.name ?? "", role: user?.role ?? "user", password: "", enabled: user?.enabled ?? true },
  });
  const { errors, isSubmitting } = form.formState;
  const submit = form.handleSubmit(async (v) => {
    try {
      const saved = user
        ? await update.mutateAsync({
            id: user.id,
            patch: {
              ...(v.name !== user.name ? { name: v.name } : {}),
              role: v.role,
              enabled: v.enabled,
              ...(v.password ? { password: v.password } : {}),
            },
          })
        : await create.mutateAsync({
            name: v.name,
            role: v.role,
            enabled: v.enabled,
            ...(v.password ? { password: v.password } : {}),
          });
      onDone(saved);
    } catch (e) {
      applyServerError(e, form.setError, ["name", "role", "password"]);
    }
  });
  return (
    <form onSubmit={submit} noValidate className="space-y-4">
      <Field label={t("users.name")} error={errors.name?.message} hint={t("validation.nameHint")}>
        {(p) => <Input {...p} autoFocus autoComplete="off" {...form.register("name")} />}
      </Field>
      <Field label={t("users.role")} error={errors.role?.message} hint={t("users.roleHint")}>
        {(p) => (
          <Select {...p} {...form.register("role")}>
            {ROLES.map((r) => (
              <option key={r} value={r}>
                {t(`roles.${r}`)}
              </option>
            ))}
          </Select>
        )}
      </Field>
      <Field
        label={t("auth.password")}
        error={errors.password?.message}
        hint={user ? t("users.passwordKeep") : t("users.passwordOptional")}
      >
        {(p) => <Input {...p} type="password" autoComplete="new-password" {...form.register("password")} />}
      </Field>
      <Checkbox label={t("users.enabledLabel")} {...form.register("enabled")} />
      <FormActions
        error={errors.root?.server?.message}
        submit={user ? t("common.save") : t("users.create")}
        busy={isSubmitting}
      />
    </form>
  );
}
