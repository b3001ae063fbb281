// The audit filters as typed (text and local date-times) and as sent,
// with the one check a filter needs: the range must not end before it
// starts.
import type { AuditFilters } from "../../api/audit";
import { isoToLocalInput, localInputToIso } from "../../lib/format";

export interface AuditDraft {
  actor: string;
  action: string;
  target_type: string;
  target_id: string;
  from: string;
  to: string;
}

export function draftOf(f: AuditFilters): AuditDraft {
  return {
    actor: f.actor ?? "",
    action: f.action ?? "",
    target_type: f.target_type ?? "",
    target_id: f.target_id ?? "",
    from: isoToLocalInput(f.from),
    to: isoToLocalInput(f.to),
  };
}

/** Field errors (i18n keys) of a draft; empty when it can be applied. */
export function draftErrors(d: AuditDraft): Partial<Record<keyof AuditDraft, string>> {
  const out: Partial<Record<keyof AuditDraft, string>> = {};
  const from = d.from ? localInputToIso(d.from) : null;
  const to = d.to ? localInputToIso(d.to) : null;
  if (d.from && from === null) out.from = "validation.date";
  if (d.to && to === null) out.to = "validation.date";
  if (from && to && Date.parse(to) <= Date.parse(from)) out.to = "audit.toBeforeFrom";
  return out;
}

export function filtersOf(d: AuditDraft): AuditFilters {
  const text = (v: string) => v.trim() || undefined;
  return {
    actor: text(d.actor),
    action: text(d.action),
    target_type: text(d.target_type),
    target_id: text(d.target_id),
    from: localInputToIso(d.from) ?? undefined,
    to: localInputToIso(d.to) ?? undefined,
  };
}
