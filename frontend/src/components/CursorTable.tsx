// The pieces the cursor-paged tables (Logs, Audit) share: the column
// header row, the "nothing here" row, and the footer that counts what is
// loaded and loads the next page.
import { Button } from "./Button";

/** The header row of `headers`; `sticky` keeps it on top while scrolling. */
export function TableHead({ headers, sticky = false }: { headers: readonly string[]; sticky?: boolean }) {
  return (
    <thead className={`${sticky ? "sticky top-0 z-10 " : ""}bg-zinc-50 dark:bg-zinc-800`}>
      <tr>
        {headers.map((h) => (
          <th
            key={h}
            scope="col"
            className="px-3 py-2 text-left font-semibold whitespace-nowrap text-zinc-700 dark:text-zinc-200"
          >
            {h}
          </th>
        ))}
      </tr>
    </thead>
  );
}

/** One row spanning `columns`, saying `text` (an empty result). */
export function EmptyRow({ columns, text }: { columns: number; text: string }) {
  return (
    <tr>
      <td colSpan={columns} className="px-3 py-6 text-center text-zinc-600 dark:text-zinc-400">
        {text}
      </td>
    </tr>
  );
}

/** How much is loaded, and a button for the next page while there is one. */
export function MoreFooter({
  loaded,
  hasNext,
  fetching,
  onMore,
  more,
  loading,
  end,
}: {
  loaded: string;
  hasNext: boolean;
  fetching: boolean;
  onMore: () => void;
  more: string;
  loading: string;
  end: string;
}) {
  return (
    <div className="flex items-center justify-between text-sm text-zinc-700 dark:text-zinc-300">
      <span>{loaded}</span>
      {hasNext ? (
        <Button size="sm" onClick={onMore} disabled={fetching}>
          {fetching ? loading : more}
        </Button>
      ) : (
        <span>{end}</span>
      )}
    </div>
  );
}
