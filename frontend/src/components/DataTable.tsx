// The generic list: a text filter over every column, sorting by any
// sortable column (click or Enter on its header), and pages. Lists that can
// grow without bound (request logs) use VirtualTable instead.
import {
  flexRender,
  getCoreRowModel,
  getFilteredRowModel,
  getPaginationRowModel,
  getSortedRowModel,
  useReactTable,
  type ColumnDef,
  type SortingState,
} from "@tanstack/react-table";
import { useId, useState, type ReactNode } from "react";
import { useTranslation } from "react-i18next";
import { Button } from "./Button";
import { Input, Select } from "./Field";

export interface DataTableProps<T> {
  /** What the table lists, for assistive technology. */
  label: string;
  data: T[];
  columns: ColumnDef<T>[];
  rowId: (row: T) => string;
  initialSort?: SortingState;
  pageSize?: number;
  empty?: ReactNode;
  /** Extra controls beside the filter (e.g. a "New" button). */
  toolbar?: ReactNode;
}

const PAGE_SIZES = [10, 20, 50, 100];

export function DataTable<T>({
  label,
  data,
  columns,
  rowId,
  initialSort = [],
  pageSize = 20,
  empty,
  toolbar,
}: DataTableProps<T>) {
  const { t } = useTranslation();
  const [sorting, setSorting] = useState<SortingState>(initialSort);
  const [filter, setFilter] = useState("");
  const [pagination, setPagination] = useState({ pageIndex: 0, pageSize });
  const filterId = useId();
  // eslint-disable-next-line react-hooks/incompatible-library -- TanStack Table returns fresh functions by design
  const table = useReactTable({
    data,
    columns,
    getRowId: rowId,
    state: { sorting, globalFilter: filter, pagination },
    onSortingChange: setSorting,
    onGlobalFilterChange: setFilter,
    onPaginationChange: setPagination,
    getCoreRowModel: getCoreRowModel(),
    getFilteredRowModel: getFilteredRowModel(),
    getSortedRowModel: getSortedRowModel(),
    getPaginationRowModel: getPaginationRowModel(),
    globalFilterFn: "includesString",
  });
  const rows = table.getRowModel().rows;
  const pages = Math.max(table.getPageCount(), 1);
  const filtered = table.getFilteredRowModel().rows.length;

  return (
    <div className="space-y-3">
      <div className="flex flex-wrap items-end justify-between gap-2">
        <div className="w-full max-w-xs">
          <label htmlFor={filterId} className="sr-only">
            {t("table.filter")}
          </label>
          <Input
            id={filterId}
            type="search"
            placeholder={t("table.filter")}
            value={filter}
            onChange={(e) => {
              setFilter(e.target.value);
              table.setPageIndex(0);
            }}
          />
        </div>
        {toolbar ? <div className="flex flex-wrap gap-2">{toolbar}</div> : null}
      </div>
      <div
        role="region"
        aria-label={label}
        tabIndex={0}
        className="relative overflow-x-auto rounded-lg border border-zinc-200 focus-visible:outline-2 focus-visible:outline-indigo-500 dark:border-zinc-700"
      >
        <table className="min-w-full divide-y divide-zinc-200 text-sm dark:divide-zinc-700">
          <caption className="sr-only">{label}</caption>
          <thead className="bg-zinc-50 dark:bg-zinc-800">
            {table.getHeaderGroups().map((group) => (
              <tr key={group.id}>
                {group.headers.map((header) => {
                  const sorted = header.column.getIsSorted();
                  const content = header.isPlaceholder
                    ? null
                    : flexRender(header.column.columnDef.header, header.getContext());
                  return (
                    <th
                      key={header.id}
                      scope="col"
                      aria-sort={sorted === "asc" ? "ascending" : sorted === "desc" ? "descending" : undefined}
                      className="px-3 py-2 text-left font-semibold whitespace-nowrap text-zinc-700 dark:text-zinc-200"
                    >
                      {header.column.getCanSort() ? (
                        <button
                          type="button"
                          className="inline-flex items-center gap-1 rounded hover:underline focus-visible:outline-2 focus-visible:outline-indigo-500"
                          onClick={header.column.getToggleSortingHandler()}
                        >
                          {content}
                          <span aria-hidden="true">{sorted === "asc" ? "▲" : sorted === "desc" ? "▼" : "↕"}</span>
                        </button>
                      ) : (
                        content
                      )}
                    </th>
                  );
                })}
              </tr>
            ))}
          </thead>
          <tbody className="divide-y divide-zinc-200 bg-white dark:divide-zinc-800 dark:bg-zinc-900">
            {rows.length === 0 ? (
              <tr>
                <td colSpan={columns.length} className="px-3 py-6 text-center text-zinc-600 dark:text-zinc-400">
                  {filter ? t("table.noMatch") : (empty ?? t("table.empty"))}
                </td>
              </tr>
            ) : (
              rows.map((row) => (
                <tr key={row.id} className="hover:bg-zinc-50 dark:hover:bg-zinc-800/60">
                  {row.getVisibleCells().map((cell) => (
                    <td key={cell.id} className="px-3 py-2 align-middle">
                      {flexRender(cell.column.columnDef.cell, cell.getContext())}
                    </td>
                  ))}
                </tr>
              ))
            )}
          </tbody>
        </table>
      </div>
      <div className="flex flex-wrap items-center justify-between gap-2 text-sm text-zinc-700 dark:text-zinc-300">
        <span>{t("table.rows", { count: filtered })}</span>
        <div className="flex items-center gap-2">
          <label className="flex items-center gap-1">
            <span>{t("table.pageSize")}</span>
            <Select
              className="w-20 py-1"
              value={pagination.pageSize}
              onChange={(e) => setPagination({ pageIndex: 0, pageSize: Number(e.target.value) })}
            >
              {PAGE_SIZES.map((n) => (
                <option key={n} value={n}>
                  {n}
                </option>
              ))}
            </Select>
          </label>
          <Button size="sm" onClick={() => table.previousPage()} disabled={!table.getCanPreviousPage()}>
            {t("table.previous")}
          </Button>
          <span aria-live="polite">{t("table.page", { page: pagination.pageIndex + 1, pages })}</span>
          <Button size="sm" onClick={() => table.nextPage()} disabled={!table.getCanNextPage()}>
            {t("table.next")}
          </Button>
        </div>
      </div>
    </div>
  );
}
