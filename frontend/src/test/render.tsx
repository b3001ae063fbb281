// Renders a component the way the app does: a fresh query cache, the
// session (from the mocked `GET /admin/api/session`) and toasts.
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { cleanup, configure, render, screen } from "@testing-library/react";
import type { ReactNode } from "react";
import { afterEach } from "vitest";
import { AuthProvider, useAuth, type Role } from "../auth/session";
import { ToastProvider } from "../components/Toast";
import { mockApi } from "./fetchMock";
import { CSRF_COOKIE } from "../api/client";

// Vitest runs without globals, so Testing Library cannot unmount by itself.
afterEach(cleanup);
// Role queries compute accessible names, which is slow in jsdom on a
// loaded machine; the default one second is too tight for whole pages.
configure({ asyncUtilTimeout: 5000 });

/** Signs in as `role` and renders `ui` once the session is known. */
export async function renderAs(role: Role, ui: ReactNode) {
  mockApi("GET", "/admin/api/session", () => ({ user_id: 1, username: "tester", role, via: "session" }));
  // The console asks who is signed in only when a session cookie pair exists.
  document.cookie = `${CSRF_COOKIE}=test-csrf; path=/`;
  const client = new QueryClient({ defaultOptions: { queries: { retry: false }, mutations: { retry: false } } });
  const result = render(
    <QueryClientProvider client={client}>
      <ToastProvider>
        <AuthProvider>
          <SessionGate>{ui}</SessionGate>
        </AuthProvider>
      </ToastProvider>
    </QueryClientProvider>,
  );
  await screen.findByTestId("session-ready");
  return result;
}

function SessionGate({ children }: { children: ReactNode }) {
  const { session } = useAuth();
  if (!session) return null;
  return <div data-testid="session-ready">{children}</div>;
}
