// Who is signed in: the session (cookie) or the admin key (this tab), the
// caller's role, and what happens when the API says 401 (the session
// expired or was ended elsewhere): back to sign-in with a message.
import { useQuery, useQueryClient, type QueryClient } from "@tanstack/react-query";
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from "react";
import {
  adminKey,
  api,
  CSRF_COOKIE,
  onUnauthorized,
  readCookie,
  setAdminKey,
  unwrap,
  type Schemas,
} from "../api/client";
import { ApiError } from "../api/errors";

export type Session = Schemas["SessionView"];
export type Role = Schemas["Role"];

interface AuthState {
  /** The caller; `null` when signed out, `undefined` while loading. */
  session: Session | null | undefined;
  /** How the last session ended: by a 401 (`expired`: say so, and come
   * back to the same page after signing in) or by signing out. */
  ended: Ended;
  signIn(username: string, password: string): Promise<Session>;
  signInWithKey(key: string): Promise<Session>;
  signOut(): Promise<void>;
}

export type Ended = "expired" | "signed-out" | null;

const AuthContext = createContext<AuthState | null>(null);

export const SESSION_KEY = ["session"] as const;

/** The current caller, or null when the API says 401. Without an admin
 * key and without the CSRF cookie (set with every session) nobody is signed
 * in, and the question is not asked (no 401 in the console on a first
 * visit). */
async function fetchSession(): Promise<Session | null> {
  if (adminKey() === null && readCookie(CSRF_COOKIE) === null) return null;
  try {
    return await unwrap(api.GET("/admin/api/session"));
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) return null;
    throw e;
  }
}

/** Drops everything cached for the caller who left, and marks nobody
 * signed in. The session query itself stays (its observers keep
 * listening); only its value changes. */
function forget(client: QueryClient): void {
  client.removeQueries({ predicate: (q) => q.queryKey[0] !== SESSION_KEY[0] });
  client.setQueryData(SESSION_KEY, null);
}

export function AuthProvider({ children }: { children: ReactNode }) {
  const client = useQueryClient();
  const [ended, setEnded] = useState<Ended>(null);
  const query = useQuery({ queryKey: SESSION_KEY, queryFn: fetchSession, retry: false, staleTime: Infinity });
  const session = query.data;

  useEffect(
    () =>
      onUnauthorized(() => {
        const current = client.getQueryData<Session | null>(SESSION_KEY);
        if (!current) return;
        setAdminKey(null);
        setEnded("expired");
        forget(client);
      }),
    [client],
  );

  const signIn = useCallback(
    async (username: string, password: string) => {
      setAdminKey(null);
      const s = await unwrap(api.POST("/admin/api/session", { body: { username, password } }));
      setEnded(null);
      client.setQueryData(SESSION_KEY, s);
      return s;
    },
    [client],
  );

  const signInWithKey = useCallback(
    async (key: string) => {
      setAdminKey(key);
      try {
        const s = await unwrap(api.GET("/admin/api/session"));
        setEnded(null);
        client.setQueryData(SESSION_KEY, s);
        return s;
      } catch (e) {
        setAdminKey(null);
        throw e;
      }
    },
    [client],
  );

  const signOut = useCallback(async () => {
    if (adminKey() === null) {
      // Best effort: a session that is already gone is signed out too.
      await api.DELETE("/admin/api/session").catch(() => undefined);
    }
    setAdminKey(null);
    setEnded("signed-out");
    forget(client);
  }, [client]);

  const value = useMemo(
    () => ({ session, ended, signIn, signInWithKey, signOut }),
    [session, ended, signIn, signInWithKey, signOut],
  );
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

export function useAuth(): AuthState {
  const auth = useContext(AuthContext);
  if (!auth) throw new Error("useAuth outside AuthProvider");
  return auth;
}

/** The signed-in caller (inside the app shell, which requires one). */
export function useSession(): Session {
  const { session } = useAuth();
  if (!session) throw new Error("useSession without a signed-in caller");
  return session;
}

/** Whether the caller may write (role `admin`): viewers see no write
 * controls, users manage only their own keys. */
export function useCanWrite(): boolean {
  return useSession().role === "admin";
}

/** Whether the caller reads everything (`viewer` or `admin`) rather than
 * only their own (`user`). */
export function useSeesAll(): boolean {
  return useSession().role !== "user";
}
