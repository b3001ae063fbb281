// The route tree (code-based TanStack Router). Sign-in and setup stand
// alone; every other page lives in the Shell, which requires a caller.
//
// Pages are loaded on first visit (one chunk each), so the first load
// carries only the shell and the page opened.
import { createRootRoute, createRoute, createRouter, Outlet } from "@tanstack/react-router";
import { lazy } from "react";
import { Shell } from "./Shell";
import { NotFound } from "./NotFound";
import { SignInPage } from "../pages/auth/SignInPage";
import { SetupPage } from "../pages/auth/SetupPage";
import { RequireRole } from "./RequireRole";

const ProvidersPage = lazy(() =>
  import("../pages/providers/ProvidersPage").then((m) => ({ default: m.ProvidersPage })),
);
const ProviderPage = lazy(() => import("../pages/providers/ProviderPage").then((m) => ({ default: m.ProviderPage })));
const CredentialsPage = lazy(() =>
  import("../pages/credentials/CredentialsPage").then((m) => ({ default: m.CredentialsPage })),
);
const UsersPage = lazy(() => import("../pages/users/UsersPage").then((m) => ({ default: m.UsersPage })));
const UserKeysPage = lazy(() => import("../pages/users/UserKeysPage").then((m) => ({ default: m.UserKeysPage })));
const MyKeysPage = lazy(() => import("../pages/users/MyKeysPage").then((m) => ({ default: m.MyKeysPage })));
const RoutesPage = lazy(() => import("../pages/routes/RoutesPage").then((m) => ({ default: m.RoutesPage })));
const LimitsPage = lazy(() => import("../pages/limits/LimitsPage").then((m) => ({ default: m.LimitsPage })));
const SettingsPage = lazy(() => import("../pages/settings/SettingsPage").then((m) => ({ default: m.SettingsPage })));
const AuditPage = lazy(() => import("../pages/audit/AuditPage").then((m) => ({ default: m.AuditPage })));
const AboutPage = lazy(() => import("../pages/about/AboutPage").then((m) => ({ default: m.AboutPage })));
const OverviewPage = lazy(() => import("../pages/overview/OverviewPage").then((m) => ({ default: m.OverviewPage })));
const UsagePage = lazy(() => import("../pages/usage/UsagePage").then((m) => ({ default: m.UsagePage })));
const PlaygroundPage = lazy(() =>
  import("../pages/playground/PlaygroundPage").then((m) => ({ default: m.PlaygroundPage })),
);
const LogsPage = lazy(() => import("../pages/logs/LogsPage").then((m) => ({ default: m.LogsPage })));

const rootRoute = createRootRoute({ component: Outlet, notFoundComponent: NotFound });

export interface SignInSearch {
  expired?: boolean | undefined;
  redirect?: string | undefined;
  /** `key`: open on the admin-key form (and stay, even before setup). */
  method?: "key" | undefined;
}

const signInRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: "/sign-in",
  validateSearch: (search: Record<string, unknown>): SignInSearch => ({
    expired: search.expired === true || search.expired === "true" ? true : undefined,
    redirect: typeof search.redirect === "string" ? search.redirect : undefined,
    method: search.method === "key" ? "key" : undefined,
  }),
  component: SignInPage,
});

const setupRoute = createRoute({ getParentRoute: () => rootRoute, path: "/setup", component: SetupPage });

const shellRoute = createRoute({ getParentRoute: () => rootRoute, id: "shell", component: Shell });

/** Pages for `admin` and `viewer` (a `user` following a link gets a note). */
function Staff({ children }: { children: React.ReactNode }) {
  return <RequireRole roles={["admin", "viewer"]}>{children}</RequireRole>;
}

function page<const TPath extends string>(path: TPath, component: () => React.ReactNode) {
  return createRoute({ getParentRoute: () => shellRoute, path, component });
}

const overviewRoute = page("/", () => <OverviewPage />);
const providersRoute = page("/providers", () => (
  <Staff>
    <ProvidersPage />
  </Staff>
));
const providerRoute = createRoute({
  getParentRoute: () => shellRoute,
  path: "/providers/$name",
  component: function ProviderRoute() {
    const { name } = providerRoute.useParams();
    return (
      <Staff>
        <ProviderPage name={name} />
      </Staff>
    );
  },
});

export interface CredentialsSearch {
  provider?: string | undefined;
}

const credentialsRoute = createRoute({
  getParentRoute: () => shellRoute,
  path: "/credentials",
  validateSearch: (search: Record<string, unknown>): CredentialsSearch => ({
    provider: typeof search.provider === "string" && search.provider ? search.provider : undefined,
  }),
  component: function CredentialsRoute() {
    const { provider } = credentialsRoute.useSearch();
    return (
      <Staff>
        <CredentialsPage provider={provider ?? null} />
      </Staff>
    );
  },
});
const usersRoute = page("/users", () => (
  <Staff>
    <UsersPage />
  </Staff>
));
const userKeysRoute = createRoute({
  getParentRoute: () => shellRoute,
  path: "/users/$id",
  component: function UserKeysRoute() {
    const { id } = userKeysRoute.useParams();
    return (
      <Staff>
        <UserKeysPage id={Number(id)} />
      </Staff>
    );
  },
});
const myKeysRoute = page("/keys", () => <MyKeysPage />);
const routesRoute = page("/routes", () => (
  <Staff>
    <RoutesPage />
  </Staff>
));
const limitsRoute = page("/limits", () => (
  <Staff>
    <LimitsPage />
  </Staff>
));
const usageRoute = page("/usage", () => <UsagePage />);
const logsRoute = page("/logs", () => <LogsPage />);
const settingsRoute = page("/settings", () => (
  <Staff>
    <SettingsPage />
  </Staff>
));
const auditRoute = page("/audit", () => (
  <Staff>
    <AuditPage />
  </Staff>
));
const playgroundRoute = page("/playground", () => <PlaygroundPage />);
const aboutRoute = page("/about", () => <AboutPage />);

const routeTree = rootRoute.addChildren([
  signInRoute,
  setupRoute,
  shellRoute.addChildren([
    overviewRoute,
    providersRoute,
    providerRoute,
    credentialsRoute,
    usersRoute,
    userKeysRoute,
    myKeysRoute,
    routesRoute,
    limitsRoute,
    usageRoute,
    logsRoute,
    settingsRoute,
    auditRoute,
    playgroundRoute,
    aboutRoute,
  ]),
]);

export const router = createRouter({ routeTree, defaultPreload: false, scrollRestoration: true });

declare module "@tanstack/react-router" {
  interface Register {
    router: typeof router;
  }
}
