// Short notices after an action ("Provider created", "Test failed: 401").
// Announced through a live region; errors stay until dismissed.
import { createContext, useCallback, useContext, useMemo, useState, type ReactNode } from "react";
import { useTranslation } from "react-i18next";
import { errorMessage } from "../api/errors";

type Tone = "success" | "error" | "info";

interface Toast {
  id: number;
  tone: Tone;
  text: string;
}

interface ToastApi {
  show(text: string, tone?: Tone): void;
  /** Waits for `action`: says `success` when it worked, its error when not.
   * Resolves to whether it worked. */
  track(action: Promise<unknown>, success: string): Promise<boolean>;
}

const ToastContext = createContext<ToastApi | null>(null);
const TIMEOUT_MS = 5000;

export function ToastProvider({ children }: { children: ReactNode }) {
  const [toasts, setToasts] = useState<Toast[]>([]);
  const { t } = useTranslation();
  const dismiss = useCallback((id: number) => setToasts((all) => all.filter((x) => x.id !== id)), []);
  const show = useCallback(
    (text: string, tone: Tone = "success") => {
      const id = Date.now() + Math.random();
      setToasts((all) => [...all.slice(-4), { id, tone, text }]);
      if (tone !== "error") setTimeout(() => dismiss(id), TIMEOUT_MS);
    },
    [dismiss],
  );
  const track = useCallback(
    async (action: Promise<unknown>, success: string) => {
      try {
        await action;
        show(success);
        return true;
      } catch (e) {
        show(errorMessage(e), "error");
        return false;
      }
    },
    [show],
  );
  const api = useMemo(() => ({ show, track }), [show, track]);
  const tones: Record<Tone, string> = {
    success: "border-green-700 bg-green-50 text-green-900 dark:bg-green-950 dark:text-green-100",
    error: "border-red-700 bg-red-50 text-red-900 dark:bg-red-950 dark:text-red-100",
    info: "border-zinc-500 bg-white text-zinc-900 dark:bg-zinc-800 dark:text-zinc-100",
  };
  return (
    <ToastContext.Provider value={api}>
      {children}
      <div
        role="status"
        aria-live="polite"
        className="pointer-events-none fixed right-4 bottom-4 z-50 flex w-80 max-w-[calc(100%-2rem)] flex-col gap-2"
      >
        {toasts.map((toast) => (
          <div
            key={toast.id}
            className={`pointer-events-auto flex items-start justify-between gap-2 rounded-md border-l-4 px-3 py-2 text-sm shadow-lg ${tones[toast.tone]}`}
          >
            <span className="break-words">{toast.text}</span>
            <button
              type="button"
              className="shrink-0 rounded px-1 hover:bg-black/10"
              onClick={() => dismiss(toast.id)}
              aria-label={t("common.dismiss")}
            >
              ✕
            </button>
          </div>
        ))}
      </div>
    </ToastContext.Provider>
  );
}

export function useToast(): ToastApi {
  const toast = useContext(ToastContext);
  if (!toast) throw new Error("useToast outside ToastProvider");
  return toast;
}
