// Column definitions every list shares.
import type { ColumnDef } from "@tanstack/react-table";
import type { ReactNode } from "react";
import { formatTime } from "../lib/format";

/** The last column: a row's buttons, right-aligned, not sortable; its
 * header is read by screen readers only. */
export function actionsColumn<T>(header: string, render: (row: T) => ReactNode): ColumnDef<T> {
  return {
    id: "actions",
    header: () => <span className="sr-only">{header}</span>,
    enableSorting: false,
    cell: ({ row }) => <div className="flex flex-wrap justify-end gap-1.5">{render(row.original)}</div>,
  };
}

/** A timestamp column, sorted by the RFC 3339 text, shown in `locale`;
 * `empty` when there is none. */
export function timeColumn<T>(
  id: string,
  header: string,
  get: (row: T) => string | null | undefined,
  locale: string,
  empty = "—",
): ColumnDef<T> {
  return {
    id,
    header,
    accessorFn: (row) => get(row) ?? "",
    cell: ({ row }) => {
      const value = get(row.original);
      return value ? formatTime(value, locale) : empty;
    },
  };
}
