// The signed-in frame: sidebar navigation (a menu on phones), the header
// with theme, language and account controls, and the page. Signed-out
// callers are sent to sign-in, with a note when their session expired.
import { Link, Outlet, useLocation, useRouter } from "@tanstack/react-router";
import { Redirect } from "./Redirect";
import { Suspense, useEffect, useState } from "react";
import { useTranslation } from "react-i18next";
import { Loading } from "../components/Page";
import { Button } from "../components/Button";
import { useAuth, type Ended, type Session } from "../auth/session";
import { LanguageSelect, ThemeToggle } from "./Preferences";
import { navFor } from "./nav";

export function Shell() {
  const { session, ended } = useAuth();
  if (session === undefined) return <Loading />;
  if (session === null) return <ToSignIn ended={ended} />;
  return <SignedIn session={session} />;
}

/** Sends a signed-out caller to sign-in, to come back here after (unless
 * they signed out on purpose: the next person starts at the overview). The
 * address is read once, without subscribing to location changes. */
function ToSignIn({ ended }: { ended: Ended }) {
  const router = useRouter();
  const [from] = useState(() => (ended === "signed-out" ? "/" : router.state.location.href));
  return (
    <Redirect
      to="/sign-in"
      search={{ expired: ended === "expired" ? true : undefined, redirect: from === "/" ? undefined : from }}
    />
  );
}

function SignedIn({ session }: { session: Session }) {
  const { t } = useTranslation();
  const { signOut } = useAuth();
  const [menuOpen, setMenuOpen] = useState(false);
  const location = useLocation();
  const items = navFor(session.role);

  // A navigation closes the phone menu.
  const path = location.pathname;
  const [lastPath, setLastPath] = useState(path);
  if (path !== lastPath) {
    setLastPath(path);
    setMenuOpen(false);
  }

  useEffect(() => {
    if (!menuOpen) return;
    const onKey = (e: KeyboardEvent) => {
      if (e.key === "Escape") setMenuOpen(false);
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [menuOpen]);

  return (
    <div className="min-h-dvh bg-zinc-50 text-zinc-900 dark:bg-zinc-950 dark:text-zinc-100">
      <a
        href="#main"
        className="sr-only z-50 rounded bg-indigo-600 px-3 py-2 text-white focus:not-sr-only focus:fixed focus:top-2 focus:left-2"
      >
        {t("shell.skip")}
      </a>
      <aside
        className={`${menuOpen ? "block" : "hidden"} fixed inset-y-0 left-0 z-40 w-64 overflow-y-auto border-r border-zinc-200 bg-white shadow-lg md:block md:w-56 md:shadow-none dark:border-zinc-800 dark:bg-zinc-900`}
      >
        <div className="flex h-14 items-center justify-between px-4">
          <Link to="/" className="flex items-center gap-2 text-lg font-semibold">
            <img src="/favicon.svg" alt="" className="size-6" />
            gproxy
          </Link>
          <Button
            variant="ghost"
            size="sm"
            className="md:hidden"
            onClick={() => setMenuOpen(false)}
            aria-label={t("shell.closeMenu")}
          >
            ✕
          </Button>
        </div>
        <nav aria-label={t("shell.navigation")} className="px-2 pb-4">
          <ul className="space-y-0.5">
            {items.map((item) => (
              <li key={item.key}>
                <Link
                  to={item.to}
                  activeOptions={{ exact: item.to === "/" }}
                  className="block rounded-md px-3 py-2 text-sm text-zinc-700 hover:bg-zinc-100 focus-visible:outline-2 focus-visible:outline-indigo-500 dark:text-zinc-300 dark:hover:bg-zinc-800"
                  activeProps={{
                    className: "bg-indigo-50 font-semibold text-indigo-800 dark:bg-indigo-950 dark:text-indigo-200",
                    "aria-current": "page",
                  }}
                >
                  {t(`nav.${item.key}`)}
                </Link>
              </li>
            ))}
          </ul>
        </nav>
      </aside>
      {menuOpen ? (
        <div
          className="fixed inset-0 z-30 bg-black/40 md:hidden"
          aria-hidden="true"
          onClick={() => setMenuOpen(false)}
        />
      ) : null}
      <div className="md:pl-56">
        <header className="sticky top-0 z-20 flex h-14 items-center justify-between gap-2 border-b border-zinc-200 bg-white/95 px-3 backdrop-blur md:px-6 dark:border-zinc-800 dark:bg-zinc-900/95">
          <div className="flex items-center gap-2">
            <Button
              variant="ghost"
              size="sm"
              className="md:hidden"
              onClick={() => setMenuOpen(true)}
              aria-expanded={menuOpen}
              aria-label={t("shell.openMenu")}
            >
              ☰
            </Button>
            <span className="font-semibold md:hidden">gproxy</span>
          </div>
          <div className="flex items-center gap-1.5 sm:gap-3">
            <ThemeToggle />
            <LanguageSelect />
            <span className="hidden text-sm text-zinc-700 sm:inline dark:text-zinc-300">
              {session.username} · {t(`roles.${session.role}`)}
            </span>
            <Button size="sm" onClick={() => void signOut()}>
              {t("shell.signOut")}
            </Button>
          </div>
        </header>
        <main id="main" tabIndex={-1} className="p-4 outline-none md:p-6">
          <Suspense fallback={<Loading />}>
            <Outlet />
          </Suspense>
        </main>
      </div>
    </div>
  );
}
