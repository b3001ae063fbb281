// The audit log of admin writes: cursor-paged (newest first) with filters.
import { useInfiniteQuery } from "@tanstack/react-query";
import { api, unwrap, type Schemas } from "./client";

export type AuditRecord = Schemas["AuditView"];
export type AuditPage = Schemas["AuditPageView"];

export interface AuditFilters {
  actor?: string | undefined;
  action?: string | undefined;
  target_type?: string | undefined;
  target_id?: string | undefined;
  from?: string | undefined;
  to?: string | undefined;
}

export const AUDIT_PAGE_SIZE = 50;

export function fetchAuditPage(filters: AuditFilters, cursor: string | null): Promise<AuditPage> {
  const query = { ...filters, limit: AUDIT_PAGE_SIZE, ...(cursor ? { cursor } : {}) };
  return unwrap(api.GET("/admin/api/audit", { params: { query } }));
}

export function useAuditPages(filters: AuditFilters) {
  return useInfiniteQuery({
    queryKey: ["audit", filters],
    queryFn: ({ pageParam }) => fetchAuditPage(filters, pageParam),
    initialPageParam: null as string | null,
    getNextPageParam: (last) => last.next_cursor ?? null,
  });
}
