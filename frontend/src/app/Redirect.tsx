// Navigates once, on mount. TanStack Router's <Navigate> navigates again
// whenever it re-renders with new props; a component that also reads the
// location re-renders on that very navigation, which loops.
import { useNavigate, type NavigateOptions } from "@tanstack/react-router";
import { useEffect, useRef } from "react";

export function Redirect(props: NavigateOptions) {
  const navigate = useNavigate();
  const done = useRef(false);
  const options = useRef(props);
  useEffect(() => {
    if (done.current) return;
    done.current = true;
    void navigate({ ...options.current, replace: true });
  }, [navigate]);
  return null;
}
