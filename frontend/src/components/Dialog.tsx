// Modal dialogs on the native <dialog> element: focus moves in and is
// kept there, Escape closes, focus returns to the opener. The drawer is the
// same element pinned to the right edge.
import { useEffect, useId, useRef, useState, type ReactNode } from "react";
import { useTranslation } from "react-i18next";
import { Button } from "./Button";
import { useToast } from "./Toast";

interface DialogProps {
  open: boolean;
  onClose: () => void;
  title: string;
  children: ReactNode;
  /** `drawer`: full height on the right (details); default: centred. */
  variant?: "modal" | "drawer";
  wide?: boolean;
}

export function Dialog({ open, onClose, title, children, variant = "modal", wide = false }: DialogProps) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  const { t } = useTranslation();

  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    if (open && !dialog.open) dialog.showModal();
    if (!open && dialog.open) dialog.close();
  }, [open]);

  const placement =
    variant === "drawer"
      ? "ml-auto mr-0 h-dvh max-h-dvh w-full max-w-2xl rounded-none"
      : `m-auto w-[calc(100%-2rem)] ${wide ? "max-w-3xl" : "max-w-lg"} rounded-lg`;
  return (
    <dialog
      ref={ref}
      aria-labelledby={titleId}
      onClose={onClose}
      className={`${placement} bg-white p-0 text-zinc-900 shadow-xl backdrop:bg-black/50 dark:bg-zinc-900 dark:text-zinc-100`}
    >
      {open ? (
        <div className="flex max-h-[inherit] flex-col">
          <div className="flex items-center justify-between border-b border-zinc-200 px-5 py-3 dark:border-zinc-700">
            <h2 id={titleId} className="text-lg font-semibold">
              {title}
            </h2>
            <Button variant="ghost" size="sm" onClick={onClose} aria-label={t("common.close")}>
              ✕
            </Button>
          </div>
          <div className="overflow-y-auto px-5 py-4">{children}</div>
        </div>
      ) : null}
    </dialog>
  );
}

interface ConfirmProps {
  open: boolean;
  title: string;
  message: ReactNode;
  confirmLabel: string;
  onConfirm: () => void;
  onCancel: () => void;
  busy?: boolean;
}

/** Asks before a destructive action; the safe choice has the focus. */
export function ConfirmDialog({ open, title, message, confirmLabel, onConfirm, onCancel, busy = false }: ConfirmProps) {
  const { t } = useTranslation();
  return (
    <Dialog open={open} onClose={onCancel} title={title}>
      <div className="text-sm text-zinc-700 dark:text-zinc-300">{message}</div>
      <div className="mt-5 flex justify-end gap-2">
        <Button autoFocus onClick={onCancel}>
          {t("common.cancel")}
        </Button>
        <Button variant="danger" onClick={onConfirm} disabled={busy}>
          {confirmLabel}
        </Button>
      </div>
    </Dialog>
  );
}

interface DeleteProps<T> {
  /** What is about to be deleted; `null`: the dialog is closed. */
  target: T | null;
  onClose: () => void;
  title: string;
  message: (target: T) => ReactNode;
  /** Deletes it (a mutation's `mutateAsync`). */
  remove: (target: T) => Promise<unknown>;
  /** The notice once it is gone. */
  done: (target: T) => string;
  /** Called once it is gone (after `onClose`). */
  onDeleted?: (target: T) => void;
}

/** The confirmed delete every list uses: ask, delete, say so (or say why
 * not), close. */
export function DeleteDialog<T>({ target, onClose, title, message, remove, done, onDeleted }: DeleteProps<T>) {
  const { t } = useTranslation();
  const toast = useToast();
  const [busy, setBusy] = useState(false);
  return (
    <ConfirmDialog
      open={target !== null}
      title={title}
      message={target !== null ? message(target) : null}
      confirmLabel={t("common.delete")}
      busy={busy}
      onCancel={onClose}
      onConfirm={async () => {
        if (target === null) return;
        setBusy(true);
        const ok = await toast.track(remove(target), done(target));
        setBusy(false);
        if (ok) {
          onClose();
          onDeleted?.(target);
        }
      }}
    />
  );
}
