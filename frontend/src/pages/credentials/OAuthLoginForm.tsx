// Logging a subscription account in: in the browser (open the vendor's
// page, paste back where it ended), with a device code (codex: type the
// code at the vendor, the console polls), or by importing the vendor
// CLI's own credentials file.
import { useEffect, useRef, useState } from "react";
import { useTranslation } from "react-i18next";
import { ApiError, errorMessage } from "../../api/errors";
import {
  isPending,
  useOAuthComplete,
  useOAuthImport,
  useOAuthPoll,
  useOAuthStart,
  type LoginDone,
  type LoginStart,
} from "../../api/oauth";
import { Button } from "../../components/Button";
import { Field, Input, Textarea } from "../../components/Field";
import { FormError } from "../../components/FormError";
import { hasDeviceFlow, importHintKey, nextPollSecs } from "./oauth";

type Mode = "browser" | "device" | "import";

interface Props {
  provider: string;
  kind: string;
  onDone: (done: LoginDone) => void;
}

/** A thrown value as a field error (when the API named this field) or a
 * form error. */
function split(error: unknown, field: string): { field?: string; form?: string } {
  if (error instanceof ApiError && error.field === field) return { field: error.message };
  return { form: errorMessage(error) };
}

export function OAuthLoginForm({ provider, kind, onDone }: Props) {
  const { t } = useTranslation();
  const [mode, setMode] = useState<Mode>("browser");
  const modes: Mode[] = hasDeviceFlow(kind) ? ["browser", "device", "import"] : ["browser", "import"];
  return (
    <div className="space-y-4">
      <div role="tablist" aria-label={t("oauth.how")} className="flex gap-2">
        {modes.map((m) => (
          <Button
            key={m}
            role="tab"
            aria-selected={mode === m}
            variant={mode === m ? "primary" : "secondary"}
            size="sm"
            onClick={() => setMode(m)}
          >
            {t(`oauth.mode.${m}`)}
          </Button>
        ))}
      </div>
      {mode === "browser" ? <BrowserLogin provider={provider} onDone={onDone} /> : null}
      {mode === "device" ? <DeviceLogin provider={provider} onDone={onDone} /> : null}
      {mode === "import" ? <ImportLogin provider={provider} kind={kind} onDone={onDone} /> : null}
    </div>
  );
}

function BrowserLogin({ provider, onDone }: { provider: string; onDone: (d: LoginDone) => void }) {
  const { t } = useTranslation();
  const start = useOAuthStart(provider);
  const complete = useOAuthComplete(provider);
  const [login, setLogin] = useState<LoginStart | null>(null);
  const [callback, setCallback] = useState("");
  const [errors, setErrors] = useState<{ field?: string; form?: string }>({});

  const begin = () => {
    setErrors({});
    start.mutate("authorization_code", { onSuccess: setLogin, onError: (e) => setErrors({ form: errorMessage(e) }) });
  };
  const finish = (e: React.FormEvent) => {
    e.preventDefault();
    if (!login) return;
    if (!callback.trim()) return setErrors({ field: "oauth.callbackRequired" });
    setErrors({});
    complete.mutate(
      { state: login.state, callback: callback.trim() },
      { onSuccess: (done) => onDone(done), onError: (err) => setErrors(split(err, "callback")) },
    );
  };

  if (!login) {
    return (
      <div className="space-y-3 text-sm">
        <p>{t("oauth.browserIntro")}</p>
        <FormError message={errors.form} />
        <Button variant="primary" onClick={begin} disabled={start.isPending}>
          {t("oauth.start")}
        </Button>
      </div>
    );
  }
  return (
    <form onSubmit={finish} noValidate className="space-y-3 text-sm">
      <ol className="list-decimal space-y-1 pl-5">
        <li>
          {t("oauth.step1")}{" "}
          <a
            href={login.url}
            target="_blank"
            rel="noreferrer noopener"
            className="font-medium text-indigo-700 underline dark:text-indigo-300"
          >
            {t("oauth.openPage")}
          </a>
        </li>
        <li>{t("oauth.step2")}</li>
        <li>{t("oauth.step3", { redirect: login.redirect_uri ?? "" })}</li>
      </ol>
      <Field label={t("oauth.callback")} hint={t("oauth.callbackHint")} error={errors.field}>
        {(p) => <Input {...p} value={callback} onChange={(e) => setCallback(e.target.value)} autoComplete="off" />}
      </Field>
      <FormError message={errors.form} />
      <div className="flex justify-between">
        <Button onClick={begin} disabled={start.isPending}>
          {t("oauth.restart")}
        </Button>
        <Button type="submit" variant="primary" disabled={complete.isPending}>
          {t("oauth.complete")}
        </Button>
      </div>
    </form>
  );
}

function DeviceLogin({ provider, onDone }: { provider: string; onDone: (d: LoginDone) => void }) {
  const { t } = useTranslation();
  const start = useOAuthStart(provider);
  const poll = useOAuthPoll(provider);
  const [login, setLogin] = useState<LoginStart | null>(null);
  const [error, setError] = useState<string | null>(null);
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);
  const stop = () => {
    if (timer.current) clearTimeout(timer.current);
    timer.current = null;
  };
  useEffect(() => stop, []);

  const schedule = (state: string, secs: number) => {
    stop();
    timer.current = setTimeout(() => {
      poll.mutate(state, {
        onSuccess: (r) => {
          if (isPending(r)) schedule(state, nextPollSecs(r.retry_after_secs, undefined));
          else onDone(r);
        },
        onError: (e) => setError(errorMessage(e)),
      });
    }, secs * 1000);
  };
  const begin = () => {
    setError(null);
    start.mutate("device", {
      onSuccess: (l) => {
        setLogin(l);
        schedule(l.state, nextPollSecs(undefined, l.interval_secs ?? undefined));
      },
      onError: (e) => setError(errorMessage(e)),
    });
  };
  const cancel = () => {
    stop();
    setLogin(null);
  };

  if (!login) {
    return (
      <div className="space-y-3 text-sm">
        <p>{t("oauth.deviceIntro")}</p>
        <FormError message={error ?? undefined} />
        <Button variant="primary" onClick={begin} disabled={start.isPending}>
          {t("oauth.getCode")}
        </Button>
      </div>
    );
  }
  return (
    <div className="space-y-3 text-sm">
      <p>
        {t("oauth.deviceStep")}{" "}
        <a
          href={login.url}
          target="_blank"
          rel="noreferrer noopener"
          className="font-medium text-indigo-700 underline dark:text-indigo-300"
        >
          {login.url}
        </a>
      </p>
      <p className="font-mono text-2xl font-semibold tracking-widest" data-testid="user-code">
        {login.user_code}
      </p>
      {error ? (
        <FormError message={error} />
      ) : (
        <p role="status" className="text-zinc-600 dark:text-zinc-400">
          {t("oauth.waiting")}
        </p>
      )}
      <div className="flex justify-end">
        <Button onClick={cancel}>{t("common.cancel")}</Button>
      </div>
    </div>
  );
}

function ImportLogin({ provider, kind, onDone }: { provider: string; kind: string; onDone: (d: LoginDone) => void }) {
  const { t } = useTranslation();
  const run = useOAuthImport(provider);
  const [content, setContent] = useState("");
  const [errors, setErrors] = useState<{ field?: string; form?: string }>({});
  const onFile = async (files: FileList | null) => {
    const f = files?.[0];
    if (f) setContent(await f.text());
  };
  const submit = (e: React.FormEvent) => {
    e.preventDefault();
    if (!content.trim()) return setErrors({ field: "oauth.contentRequired" });
    setErrors({});
    run.mutate(content, { onSuccess: (done) => onDone(done), onError: (err) => setErrors(split(err, "content")) });
  };
  return (
    <form onSubmit={submit} noValidate className="space-y-3">
      <Field label={t("oauth.importLabel")} hint={t(importHintKey(kind))} error={errors.field}>
        {(p) => <Textarea {...p} rows={8} value={content} onChange={(e) => setContent(e.target.value)} />}
      </Field>
      <Field label={t("oauth.importFile")}>
        {(p) => (
          <Input
            {...p}
            type="file"
            accept="application/json,.json,text/plain"
            onChange={(e) => void onFile(e.target.files)}
          />
        )}
      </Field>
      <FormError message={errors.form} />
      <div className="flex justify-end">
        <Button type="submit" variant="primary" disabled={run.isPending}>
          {t("oauth.import")}
        </Button>
      </div>
    </form>
  );
}
