import type { ReactNode } from "react";
import { ApiError } from "../api/client";

/** An API error with its message and request id (what support asks for). */
export function ErrorMessage({ error, title }: { error: unknown; title?: string }) {
  const apiError = error instanceof ApiError ? error : null;
  const message = error instanceof Error ? error.message : String(error);
  return (
    <div className="alert alert-error" role="alert">
      <strong>{title ?? "Something went wrong"}:</strong> {message}
      {apiError?.requestId && (
        <div className="muted small">
          Request id: <code>{apiError.requestId}</code>
        </div>
      )}
    </div>
  );
}

export function Loading({ label = "Loading…" }: { label?: string }) {
  return (
    <div className="loading" role="status" aria-live="polite">
      <span className="spinner" aria-hidden="true" /> {label}
    </div>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return <div className="empty">{children}</div>;
}

interface QueryLike<T> {
  isPending: boolean;
  isError: boolean;
  error: unknown;
  data: T | undefined;
}

/** Loading, error, then the content of a query. */
export function QueryState<T>({
  query,
  label,
  children,
}: {
  query: QueryLike<T>;
  label?: string;
  children: (data: T) => ReactNode;
}) {
  if (query.isPending) return <Loading label={label ? `Loading ${label}…` : undefined} />;
  if (query.isError || query.data === undefined)
    return (
      <ErrorMessage error={query.error} title={label ? `Could not load ${label}` : undefined} />
    );
  return <>{children(query.data)}</>;
}

export function Badge({ value, kind }: { value: string | null | undefined; kind?: string }) {
  if (!value) return <span className="muted">—</span>;
  return <span className={`badge badge-${kind ?? "plain"} badge-${value}`}>{value}</span>;
}
