// Sign in with a user name and password (a session cookie), or with the
// admin key (kept in this tab only). A fresh install without an admin user
// goes to the first-run setup instead.
import { zodResolver } from "@hookform/resolvers/zod";
import { useQuery } from "@tanstack/react-query";
import { Link, useNavigate, useSearch } from "@tanstack/react-router";
import { Redirect } from "../../app/Redirect";
import { useState } from "react";
import { useForm } from "react-hook-form";
import { useTranslation } from "react-i18next";
import { z } from "zod";
import { api, unwrap } from "../../api/client";
import { errorMessage } from "../../api/errors";
import { useAuth } from "../../auth/session";
import { Button } from "../../components/Button";
import { Field, Input } from "../../components/Field";
import { FormError } from "../../components/FormError";
import { AuthFrame } from "./AuthFrame";

const passwordForm = z.object({
  username: z.string().min(1, { message: "validation.required" }),
  password: z.string().min(1, { message: "validation.required" }),
});
const keyForm = z.object({ key: z.string().min(8, { message: "validation.keyShort" }) });

/** A same-origin path to return to, never another site. */
export function safeRedirect(target: string | undefined): string {
  return target && target.startsWith("/") && !target.startsWith("//") && !target.startsWith("/sign-in") ? target : "/";
}

export function useSetupNeeded() {
  return useQuery({
    queryKey: ["setup"],
    queryFn: () => unwrap(api.GET("/admin/api/setup")),
    staleTime: 0,
  });
}

export function SignInPage() {
  const { t } = useTranslation();
  const { session } = useAuth();
  const search = useSearch({ from: "/sign-in" });
  const setup = useSetupNeeded();
  const [mode, setMode] = useState<"password" | "key">(search.method === "key" ? "key" : "password");

  if (session) return <Redirect href={safeRedirect(search.redirect)} />;
  if (setup.data?.needs_admin_user && mode === "password") return <Redirect to="/setup" />;

  return (
    <AuthFrame title={t("auth.signInTitle")}>
      {search.expired ? (
        <p
          role="alert"
          className="mb-4 rounded-md border border-amber-300 bg-amber-50 px-3 py-2 text-sm text-amber-900 dark:border-amber-700 dark:bg-amber-950 dark:text-amber-100"
        >
          {t("auth.expired")}
        </p>
      ) : null}
      <div
        role="tablist"
        aria-label={t("auth.method")}
        className="mb-4 grid grid-cols-2 gap-1 rounded-md bg-zinc-100 p-1 dark:bg-zinc-800"
      >
        {(["password", "key"] as const).map((m) => (
          <button
            key={m}
            type="button"
            role="tab"
            aria-selected={mode === m}
            onClick={() => setMode(m)}
            className={`rounded px-3 py-1.5 text-sm font-medium ${mode === m ? "bg-white shadow dark:bg-zinc-950" : "text-zinc-700 dark:text-zinc-300"}`}
          >
            {t(m === "password" ? "auth.withPassword" : "auth.withKey")}
          </button>
        ))}
      </div>
      {mode === "password" ? <PasswordForm redirect={search.redirect} /> : <KeyForm redirect={search.redirect} />}
      {setup.data?.needs_admin_user ? (
        <p className="mt-4 text-sm">
          <Link to="/setup" className="text-indigo-700 underline dark:text-indigo-300">
            {t("auth.goSetup")}
          </Link>
        </p>
      ) : null}
    </AuthFrame>
  );
}

function PasswordForm({ redirect }: { redirect: string | undefined }) {
  const { t } = useTranslation();
  const { signIn } = useAuth();
  const navigate = useNavigate();
  const form = useForm<z.infer<typeof passwordForm>>({
    resolver: zodResolver(passwordForm),
    defaultValues: { username: "", password: "" },
  });
  const { errors, isSubmitting } = form.formState;
  const submit = form.handleSubmit(async ({ username, password }) => {
    try {
      await signIn(username, password);
      await navigate({ href: safeRedirect(redirect) });
    } catch (e) {
      form.setError("root.server", { message: errorMessage(e) });
    }
  });
  return (
    <form onSubmit={submit} noValidate className="space-y-4">
      <Field label={t("auth.username")} error={errors.username?.message}>
        {(p) => <Input {...p} autoComplete="username" autoFocus {...form.register("username")} />}
      </Field>
      <Field label={t("auth.password")} error={errors.password?.message}>
        {(p) => <Input {...p} type="password" autoComplete="current-password" {...form.register("password")} />}
      </Field>
      <FormError message={errors.root?.server?.message} />
      <Button type="submit" variant="primary" className="w-full" disabled={isSubmitting}>
        {t("auth.signIn")}
      </Button>
    </form>
  );
}

function KeyForm({ redirect }: { redirect: string | undefined }) {
  const { t } = useTranslation();
  const { signInWithKey } = useAuth();
  const navigate = useNavigate();
  const form = useForm<z.infer<typeof keyForm>>({ resolver: zodResolver(keyForm), defaultValues: { key: "" } });
  const { errors, isSubmitting } = form.formState;
  const submit = form.handleSubmit(async ({ key }) => {
    try {
      await signInWithKey(key.trim());
      await navigate({ href: safeRedirect(redirect) });
    } catch (e) {
      form.setError("key", { message: errorMessage(e) });
    }
  });
  return (
    <form onSubmit={submit} noValidate className="space-y-4">
      <Field label={t("auth.adminKey")} error={errors.key?.message} hint={t("auth.adminKeyHint")}>
        {(p) => <Input {...p} type="password" autoComplete="off" autoFocus {...form.register("key")} />}
      </Field>
      <Button type="submit" variant="primary" className="w-full" disabled={isSubmitting}>
        {t("auth.signIn")}
      </Button>
    </form>
  );
}
