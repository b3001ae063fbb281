// Logging a subscription account in (docs/oauth.md): the authorization
// code flow (open the vendor's page in a new tab, paste the address the
// browser ended on, or Claude's `code#state`) and, for codex, the device
// code flow (a code to type at the vendor's page, polled until approved).
// Logging in as the name of an existing credential replaces its tokens.
import { useEffect, useState } from "react";
import { useTranslation } from "react-i18next";
import {
  hasDeviceFlow,
  pollLogin,
  useCompleteLogin,
  useLoginSaved,
  useStartLogin,
  type LoginDone,
  type LoginStart,
} from "../../api/oauth";
import { Button } from "../../components/Button";
import { CopyButton } from "../../components/CopyButton";
import { Field, Input, Textarea } from "../../components/Field";
import { FormError } from "../../components/FormError";
import { formatTime } from "../../lib/format";
import { LoginResult } from "./LoginResult";
import { placeError, pollOutcome, saveBody, type FieldErrors, type SaveBody } from "./oauthLogic";

type Phase =
  | { kind: "idle" }
  | { kind: "code"; start: LoginStart }
  | { kind: "device"; start: LoginStart; body: SaveBody; waitSecs: number }
  | { kind: "expired"; message: string }
  | { kind: "done"; result: LoginDone };

interface Props {
  provider: string;
  kind: string;
  /** Logging an existing credential in again: its name, fixed. */
  credentialName?: string;
  onDone: () => void;
}

export function OAuthLoginForm({ provider, kind, credentialName, onDone }: Props) {
  const { t, i18n } = useTranslation();
  const start = useStartLogin(provider);
  const complete = useCompleteLogin(provider);
  const saved = useLoginSaved();
  const [flow, setFlow] = useState<"authorization_code" | "device">("authorization_code");
  const [name, setName] = useState(credentialName ?? "");
  const [weight, setWeight] = useState("");
  const [callback, setCallback] = useState("");
  const [errors, setErrors] = useState<FieldErrors>({});
  const [failure, setFailure] = useState<string | null>(null);
  const [phase, setPhase] = useState<Phase>({ kind: "idle" });
  const device = hasDeviceFlow(kind);

  // The device login: poll after the wait, again while pending. A new
  // phase object per answer re-arms the timer; leaving the phase (cancel,
  // close) clears it and drops an answer still on its way.
  useEffect(() => {
    if (phase.kind !== "device") return;
    let live = true;
    const interval = phase.start.interval_secs ?? 5;
    const timer = setTimeout(() => {
      pollLogin(provider, { state: phase.start.state, ...phase.body })
        .then((answer) => pollOutcome(answer, interval))
        .catch((error: unknown) => pollOutcome({ error }, interval))
        .then(async (outcome) => {
          if (!live) return;
          switch (outcome.next) {
            case "wait":
              setPhase({ ...phase, waitSecs: outcome.seconds });
              break;
            case "done":
              await saved();
              if (live) setPhase({ kind: "done", result: outcome.result });
              break;
            case "expired":
              setPhase({ kind: "expired", message: outcome.message });
              break;
            case "failed": {
              const placed = placeError(outcome.error);
              if (placed.on === "name" || placed.on === "weight") setErrors({ [placed.on]: placed.message });
              else setFailure(t("oauth.device.failed", { message: placed.message }));
              setPhase({ kind: "idle" });
              break;
            }
          }
        });
    }, phase.waitSecs * 1000);
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [phase, provider, saved, t]);

  const show = (error: unknown) => {
    const placed = placeError(error);
    switch (placed.on) {
      case "form":
        setFailure(placed.upstream ? t("oauth.upstream", { message: placed.message }) : placed.message);
        break;
      case "state":
        setFailure(t("oauth.stateProblem", { message: placed.message }));
        setPhase({ kind: "idle" });
        break;
      default:
        setErrors({ [placed.on]: placed.message });
    }
  };

  const begin = (e: React.FormEvent) => {
    e.preventDefault();
    setFailure(null);
    const { body, errors: invalid } = saveBody({ name, weight });
    setErrors(invalid);
    if (Object.keys(invalid).length) return;
    const chosen = device ? flow : "authorization_code";
    start.mutate(chosen === "device" ? { flow: "device" } : {}, {
      onSuccess: (s) =>
        setPhase(
          s.flow === "device"
            ? { kind: "device", start: s, body, waitSecs: s.interval_secs ?? 5 }
            : { kind: "code", start: s },
        ),
      onError: show,
    });
  };

  const finish = (e: React.FormEvent) => {
    e.preventDefault();
    if (phase.kind !== "code") return;
    setFailure(null);
    const { body, errors: invalid } = saveBody({ name, weight });
    if (!callback.trim()) invalid.callback = "validation.required";
    setErrors(invalid);
    if (Object.keys(invalid).length) return;
    complete.mutate(
      { state: phase.start.state, callback: callback.trim(), ...body },
      { onSuccess: (result) => setPhase({ kind: "done", result }), onError: show },
    );
  };

  const restart = () => {
    setPhase({ kind: "idle" });
    setCallback("");
    setErrors({});
    setFailure(null);
  };

  if (phase.kind === "done") {
    return (
      <div className="space-y-4">
        <LoginResult result={phase.result} />
        <div className="flex justify-end">
          <Button variant="primary" onClick={onDone}>
            {t("common.close")}
          </Button>
        </div>
      </div>
    );
  }

  const saveFields = (
    <div className="grid gap-3 sm:grid-cols-[1fr_8rem]">
      <Field
        label={t("credentials.name")}
        error={errors.name}
        hint={credentialName ? t("oauth.reloginHint") : t("oauth.nameHint")}
      >
        {(p) => (
          <Input
            {...p}
            value={name}
            readOnly={credentialName !== undefined}
            onChange={(e) => {
              setName(e.target.value);
              setErrors((all) => ({ ...all, name: undefined }));
            }}
            autoComplete="off"
          />
        )}
      </Field>
      <Field label={t("credentials.weight")} error={errors.weight}>
        {(p) => (
          <Input
            {...p}
            type="number"
            min={1}
            step={1}
            placeholder="1"
            value={weight}
            onChange={(e) => {
              setWeight(e.target.value);
              setErrors((all) => ({ ...all, weight: undefined }));
            }}
          />
        )}
      </Field>
    </div>
  );

  if (phase.kind === "code") {
    const s = phase.start;
    return (
      <form onSubmit={finish} noValidate className="space-y-4 text-sm" aria-label={t("oauth.finish")}>
        <ol className="list-decimal space-y-3 pl-5">
          <li>
            {t("oauth.steps.open")}{" "}
            <a
              href={s.url}
              target="_blank"
              rel="noopener noreferrer"
              className="font-medium text-indigo-700 underline hover:text-indigo-900 dark:text-indigo-300 dark:hover:text-indigo-100"
            >
              {t("oauth.steps.openLink", { provider })}
            </a>{" "}
            <CopyButton value={s.url} label={t("oauth.steps.copyLink")} />
          </li>
          <li>{t("oauth.steps.approve")}</li>
          <li>{t("oauth.steps.paste", { redirect: s.redirect_uri ?? "" })}</li>
        </ol>
        <Field label={t("oauth.callback")} error={errors.callback}>
          {(p) => (
            <Textarea
              {...p}
              rows={3}
              autoFocus
              spellCheck={false}
              value={callback}
              onChange={(e) => {
                setCallback(e.target.value);
                setErrors((all) => ({ ...all, callback: undefined }));
              }}
            />
          )}
        </Field>
        {saveFields}
        <p className="text-xs text-zinc-600 dark:text-zinc-400">
          {t("oauth.validUntil", { time: formatTime(new Date(s.expires_at_ms).toISOString(), i18n.language) })}
        </p>
        <FormError message={failure ?? undefined} />
        <div className="flex justify-end gap-2">
          <Button onClick={restart}>{t("oauth.restart")}</Button>
          <Button type="submit" variant="primary" disabled={complete.isPending}>
            {t("oauth.finish")}
          </Button>
        </div>
      </form>
    );
  }

  if (phase.kind === "device") {
    const s = phase.start;
    return (
      <div className="space-y-4 text-sm">
        <p>{t("oauth.device.instructions")}</p>
        <div className="flex flex-wrap items-center gap-3">
          <output
            aria-label={t("oauth.device.code")}
            className="rounded-md border border-zinc-300 px-4 py-2 font-mono text-3xl font-semibold tracking-widest dark:border-zinc-600"
          >
            {s.user_code}
          </output>
          <CopyButton value={s.user_code ?? ""} />
        </div>
        <p>
          <a
            href={s.url}
            target="_blank"
            rel="noopener noreferrer"
            className="font-medium break-all text-indigo-700 underline hover:text-indigo-900 dark:text-indigo-300 dark:hover:text-indigo-100"
          >
            {s.url}
          </a>
        </p>
        <p role="status" className="text-zinc-700 dark:text-zinc-300">
          {t("oauth.device.waiting", { seconds: phase.waitSecs })}
        </p>
        <p className="text-xs text-zinc-600 dark:text-zinc-400">
          {t("oauth.validUntil", { time: formatTime(new Date(s.expires_at_ms).toISOString(), i18n.language) })}
        </p>
        <div className="flex justify-end">
          <Button onClick={restart}>{t("common.cancel")}</Button>
        </div>
      </div>
    );
  }

  return (
    <form onSubmit={begin} noValidate className="space-y-4 text-sm" aria-label={t("oauth.login")}>
      {phase.kind === "expired" ? (
        <p role="alert" className="text-red-800 dark:text-red-300">
          {t("oauth.device.expired", { message: phase.message })}
        </p>
      ) : null}
      {device ? (
        <fieldset className="space-y-2">
          <legend className="mb-1 font-medium">{t("oauth.flow")}</legend>
          {(["authorization_code", "device"] as const).map((f) => (
            <label key={f} className="flex items-start gap-2">
              <input
                type="radio"
                name="oauth-flow"
                className="mt-0.5 accent-indigo-600"
                checked={flow === f}
                onChange={() => setFlow(f)}
              />
              <span>{t(f === "device" ? "oauth.flowDevice" : "oauth.flowCode")}</span>
            </label>
          ))}
        </fieldset>
      ) : (
        <p className="text-zinc-700 dark:text-zinc-300">{t("oauth.intro")}</p>
      )}
      {saveFields}
      <FormError message={failure ?? undefined} />
      <div className="flex justify-end">
        <Button type="submit" variant="primary" disabled={start.isPending}>
          {device && flow === "device" ? t("oauth.startDevice") : t("oauth.start")}
        </Button>
      </div>
    </form>
  );
}
