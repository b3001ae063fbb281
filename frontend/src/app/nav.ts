// The page slots of the console (issue 15), in sidebar order, with
// the roles that see each. `user` is the self-service role: their own keys,
// usage and requests only.
import type { Role } from "../auth/session";

export interface NavItem {
  /** i18n key under `nav.` */
  key: string;
  to: string;
  roles: readonly Role[];
}

const ALL: readonly Role[] = ["admin", "viewer", "user"];
const STAFF: readonly Role[] = ["admin", "viewer"];

export const NAV: readonly NavItem[] = [
  { key: "overview", to: "/", roles: ALL },
  { key: "providers", to: "/providers", roles: STAFF },
  { key: "credentials", to: "/credentials", roles: STAFF },
  { key: "users", to: "/users", roles: STAFF },
  { key: "myKeys", to: "/keys", roles: ["user"] },
  { key: "routes", to: "/routes", roles: STAFF },
  { key: "limits", to: "/limits", roles: STAFF },
  { key: "usage", to: "/usage", roles: ALL },
  { key: "logs", to: "/logs", roles: ALL },
  { key: "settings", to: "/settings", roles: STAFF },
  { key: "audit", to: "/audit", roles: STAFF },
  { key: "playground", to: "/playground", roles: ALL },
  { key: "about", to: "/about", roles: ALL },
];

export function navFor(role: Role): NavItem[] {
  return NAV.filter((item) => item.roles.includes(role));
}
