// First run: the admin key printed at the first start creates the first
// admin user (POST /admin/api/users as the admin key), who is then signed
// in with the new password.
import { zodResolver } from "@hookform/resolvers/zod";
import { useQueryClient } from "@tanstack/react-query";
import { Link, useNavigate } from "@tanstack/react-router";
import { useForm } from "react-hook-form";
import { useTranslation } from "react-i18next";
import { z } from "zod";
import { api, unwrap } from "../../api/client";
import { ApiError } from "../../api/errors";
import { useAuth } from "../../auth/session";
import { Button } from "../../components/Button";
import { Field, Input } from "../../components/Field";
import { FormError } from "../../components/FormError";
import { applyServerError } from "../../lib/forms";
import { nameSchema, passwordSchema } from "../../lib/validation";
import { AuthFrame } from "./AuthFrame";
import { useSetupNeeded } from "./SignInPage";

export const setupSchema = z
  .object({
    adminKey: z.string().min(8, { message: "validation.keyShort" }),
    name: nameSchema.refine((n) => n !== "admin", { message: "validation.nameAdmin" }),
    password: passwordSchema,
    confirm: z.string(),
  })
  .refine((v) => v.password === v.confirm, { path: ["confirm"], message: "validation.passwordMismatch" });

type SetupValues = z.infer<typeof setupSchema>;

export function SetupPage() {
  const { t } = useTranslation();
  const setup = useSetupNeeded();
  const { signIn } = useAuth();
  const navigate = useNavigate();
  const client = useQueryClient();
  const form = useForm<SetupValues>({
    resolver: zodResolver(setupSchema),
    defaultValues: { adminKey: "", name: "", password: "", confirm: "" },
  });
  const { errors, isSubmitting } = form.formState;

  const submit = form.handleSubmit(async (v) => {
    try {
      await unwrap(
        api.POST("/admin/api/users", {
          body: { name: v.name, role: "admin", password: v.password },
          headers: { authorization: `Bearer ${v.adminKey.trim()}` },
        }),
      );
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) {
        form.setError("adminKey", { message: "auth.adminKeyWrong" });
      } else {
        applyServerError(e, form.setError, ["name", "password"]);
      }
      return;
    }
    await client.invalidateQueries({ queryKey: ["setup"] });
    try {
      await signIn(v.name, v.password);
      await navigate({ to: "/" });
    } catch (e) {
      applyServerError(e, form.setError, []);
    }
  });

  if (setup.data && !setup.data.needs_admin_user) {
    return (
      <AuthFrame title={t("setup.title")}>
        <p className="text-sm">{t("setup.done")}</p>
        <Link to="/sign-in" search={{}} className="mt-4 inline-block text-indigo-700 underline dark:text-indigo-300">
          {t("auth.signIn")}
        </Link>
      </AuthFrame>
    );
  }

  return (
    <AuthFrame title={t("setup.title")}>
      <p className="mb-4 text-sm text-zinc-700 dark:text-zinc-300">{t("setup.intro")}</p>
      <form onSubmit={submit} noValidate className="space-y-4">
        <Field label={t("auth.adminKey")} error={errors.adminKey?.message} hint={t("setup.adminKeyHint")}>
          {(p) => <Input {...p} type="password" autoComplete="off" autoFocus {...form.register("adminKey")} />}
        </Field>
        <Field label={t("setup.username")} error={errors.name?.message} hint={t("validation.nameHint")}>
          {(p) => <Input {...p} autoComplete="username" {...form.register("name")} />}
        </Field>
        <Field label={t("auth.password")} error={errors.password?.message}>
          {(p) => <Input {...p} type="password" autoComplete="new-password" {...form.register("password")} />}
        </Field>
        <Field label={t("setup.confirm")} error={errors.confirm?.message}>
          {(p) => <Input {...p} type="password" autoComplete="new-password" {...form.register("confirm")} />}
        </Field>
        <FormError message={errors.root?.server?.message} />
        <Button type="submit" variant="primary" className="w-full" disabled={isSubmitting}>
          {t("setup.create")}
        </Button>
      </form>
      <p className="mt-4 text-sm">
        <Link to="/sign-in" search={{ method: "key" }} className="text-indigo-700 underline dark:text-indigo-300">
          {t("setup.useKey")}
        </Link>
      </p>
    </AuthFrame>
  );
}
