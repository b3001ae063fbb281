// Request logs: cursor-paged pages (newest first) with filters, and one
// request's detail with every upstream attempt. `mine` reads `/me/logs`.
import { useInfiniteQuery, useQuery } from "@tanstack/react-query";
import { api, unwrap, type Schemas } from "./client";

export type LogRow = Schemas["LogView"];
export type LogDetail = Schemas["LogDetailView"];

export interface LogFilters {
  provider?: string | undefined;
  model?: string | undefined;
  request_id?: string | undefined;
  status_class?: number | undefined;
  user_id?: number | undefined;
  from?: string | undefined;
  to?: string | undefined;
}

export const PAGE_SIZE = 100;

async function fetchPage(filters: LogFilters, cursor: string | null, mine: boolean) {
  const query = { ...filters, limit: PAGE_SIZE, ...(cursor ? { cursor } : {}) };
  return mine
    ? unwrap(api.GET("/admin/api/me/logs", { params: { query } }))
    : unwrap(api.GET("/admin/api/logs", { params: { query } }));
}

export function useLogPages(filters: LogFilters, mine: boolean) {
  return useInfiniteQuery({
    queryKey: ["logs", mine ? "me" : "all", filters],
    queryFn: ({ pageParam }) => fetchPage(filters, pageParam, mine),
    initialPageParam: null as string | null,
    getNextPageParam: (last) => last.next_cursor ?? null,
  });
}

export function useLogDetail(requestId: string | null) {
  return useQuery({
    queryKey: ["log", requestId],
    enabled: requestId !== null,
    queryFn: () =>
      unwrap(api.GET("/admin/api/logs/{request_id}", { params: { path: { request_id: requestId ?? "" } } })),
  });
}
