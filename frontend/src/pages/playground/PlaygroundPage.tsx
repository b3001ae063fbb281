// The playground: pick a model from `/v1/models` (model routes included),
// send a message in any client protocol and watch the answer stream, with
// tokens, latency and the provider that served. Proxy calls need a proxy
// key, which the console never stores server-side or shows again after
// creation: it is pasted here and kept in this tab only.
import { useQuery } from "@tanstack/react-query";
import { useRef, useState } from "react";
import { useTranslation } from "react-i18next";
import { errorMessage } from "../../api/errors";
import { Button } from "../../components/Button";
import { Card, ErrorNote, Loading, Page } from "../../components/Page";
import { Field, Input, Select, Textarea } from "../../components/Field";
import { FormError } from "../../components/FormError";
import { formatNumber } from "../../lib/format";
import { modelIds, PROTOCOLS, type Protocol } from "./protocols";
import { streamChat, type Outcome } from "./stream";

const KEY_STORE = "gproxy.playgroundKey";

function storedKey(): string {
  try {
    return sessionStorage.getItem(KEY_STORE) ?? "";
  } catch {
    return "";
  }
}

async function fetchModels(key: string): Promise<string[]> {
  const response = await fetch(new URL("/v1/models", globalThis.location.origin), {
    headers: { authorization: `Bearer ${key}` },
  });
  const body: unknown = await response.json().catch(() => null);
  if (!response.ok) {
    const e = (body as { error?: { message?: string } } | null)?.error?.message;
    throw new Error(e ?? `HTTP ${response.status}`);
  }
  return modelIds(body);
}

export function PlaygroundPage() {
  const { t, i18n } = useTranslation();
  const [key, setKey] = useState(storedKey);
  const [draftKey, setDraftKey] = useState(key);
  const models = useQuery({
    queryKey: ["playground-models", key],
    enabled: key !== "",
    queryFn: () => fetchModels(key),
  });
  const [model, setModel] = useState("");
  const [protocol, setProtocol] = useState<Protocol>("openai_chat");
  const [prompt, setPrompt] = useState("");
  const [answer, setAnswer] = useState("");
  const [outcome, setOutcome] = useState<Outcome | null>(null);
  const [problem, setProblem] = useState<{ field: "key" | "model" | "prompt" | "send"; message: string } | null>(null);
  const [busy, setBusy] = useState(false);
  const abort = useRef<AbortController | null>(null);
  const chosen = model || models.data?.[0] || "";

  const applyKey = () => {
    const k = draftKey.trim();
    if (k.length < 8) {
      setProblem({ field: "key", message: t("validation.keyShort") });
      return;
    }
    setProblem(null);
    try {
      sessionStorage.setItem(KEY_STORE, k);
    } catch {
      // private mode: kept in memory only
    }
    setKey(k);
  };

  const send = async () => {
    if (!chosen) return setProblem({ field: "model", message: t("playground.pickModel") });
    if (!prompt.trim()) return setProblem({ field: "prompt", message: t("validation.required") });
    setProblem(null);
    setAnswer("");
    setOutcome(null);
    setBusy(true);
    abort.current = new AbortController();
    try {
      const result = await streamChat(
        protocol,
        chosen,
        prompt,
        key,
        (text) => setAnswer((a) => a + text),
        abort.current.signal,
      );
      setOutcome(result);
    } catch (e) {
      if (!(e instanceof DOMException && e.name === "AbortError"))
        setProblem({ field: "send", message: errorMessage(e) });
    } finally {
      setBusy(false);
      abort.current = null;
    }
  };

  const n = (v: number | null) => formatNumber(v, i18n.language);
  return (
    <Page title={t("nav.playground")} description={t("playground.description")}>
      <Card title={t("playground.keyTitle")}>
        <form
          noValidate
          className="flex flex-wrap items-start gap-2"
          onSubmit={(e) => {
            e.preventDefault();
            applyKey();
          }}
        >
          <div className="min-w-64 flex-1">
            <Field
              label={t("playground.key")}
              hint={t("playground.keyHint")}
              error={problem?.field === "key" ? problem.message : undefined}
            >
              {(p) => (
                <Input
                  {...p}
                  type="password"
                  autoComplete="off"
                  value={draftKey}
                  onChange={(e) => setDraftKey(e.target.value)}
                />
              )}
            </Field>
          </div>
          <Button type="submit" className="mt-6">
            {t("playground.useKey")}
          </Button>
        </form>
      </Card>
      {key ? (
        <Card title={t("playground.chatTitle")}>
          {models.isPending ? <Loading /> : null}
          {models.isError ? <ErrorNote error={models.error} /> : null}
          {models.data ? (
            <form
              noValidate
              className="space-y-4"
              onSubmit={(e) => {
                e.preventDefault();
                void send();
              }}
            >
              <div className="grid gap-4 sm:grid-cols-2">
                <Field label={t("playground.model")} error={problem?.field === "model" ? problem.message : undefined}>
                  {(p) => (
                    <Select {...p} value={chosen} onChange={(e) => setModel(e.target.value)}>
                      {models.data.length === 0 ? <option value="">{t("playground.noModels")}</option> : null}
                      {models.data.map((m) => (
                        <option key={m} value={m}>
                          {m}
                        </option>
                      ))}
                    </Select>
                  )}
                </Field>
                <Field label={t("playground.protocol")}>
                  {(p) => (
                    <Select {...p} value={protocol} onChange={(e) => setProtocol(e.target.value as Protocol)}>
                      {PROTOCOLS.map((v) => (
                        <option key={v} value={v}>
                          {t(`playground.protocols.${v}`)}
                        </option>
                      ))}
                    </Select>
                  )}
                </Field>
              </div>
              <Field label={t("playground.message")} error={problem?.field === "prompt" ? problem.message : undefined}>
                {(p) => (
                  <Textarea
                    {...p}
                    rows={4}
                    className="font-sans"
                    value={prompt}
                    onChange={(e) => setPrompt(e.target.value)}
                  />
                )}
              </Field>
              <FormError message={problem?.field === "send" ? problem.message : undefined} />
              <div className="flex justify-end gap-2">
                {busy ? <Button onClick={() => abort.current?.abort()}>{t("playground.stop")}</Button> : null}
                <Button type="submit" variant="primary" disabled={busy}>
                  {busy ? t("playground.streaming") : t("playground.send")}
                </Button>
              </div>
            </form>
          ) : null}
        </Card>
      ) : null}
      {answer || outcome ? (
        <Card title={t("playground.answer")}>
          <div aria-live="polite" className="text-sm whitespace-pre-wrap text-zinc-900 dark:text-zinc-100">
            {answer}
          </div>
          {outcome?.error ? (
            <FormError message={t("playground.failed", { status: outcome.status, message: outcome.error })} />
          ) : null}
          {outcome ? (
            <dl className="mt-4 grid grid-cols-2 gap-2 text-sm sm:grid-cols-3 lg:grid-cols-6">
              {[
                [
                  t("playground.servedBy"),
                  outcome.provider ? `${outcome.provider}${outcome.model ? ` / ${outcome.model}` : ""}` : "—",
                ],
                [t("playground.status"), String(outcome.status)],
                [t("playground.firstByte"), t("playground.ms", { ms: outcome.firstByteMs })],
                [t("playground.total"), t("playground.ms", { ms: outcome.totalMs })],
                [t("playground.tokens"), `${n(outcome.input)} / ${n(outcome.output)}`],
                [t("playground.requestId"), outcome.requestId ?? "—"],
              ].map(([label, value]) => (
                <div key={label}>
                  <dt className="text-xs text-zinc-600 dark:text-zinc-400">{label}</dt>
                  <dd className="font-mono text-xs break-all">{value}</dd>
                </div>
              ))}
            </dl>
          ) : null}
        </Card>
      ) : null}
    </Page>
  );
}
