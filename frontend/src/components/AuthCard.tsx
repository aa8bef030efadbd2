import type { FormEvent, ReactNode } from "react";
import { ErrorMessage } from "./Status";

interface SubmitState {
  isPending: boolean;
  isError: boolean;
  error: unknown;
  mutate: () => void;
}

/** The centred card of the sign-in and registration pages: a title, the submission's
 * error, the fields, one submit button and a footer link. */
export function AuthCard({
  id,
  title,
  errorTitle,
  submission,
  submitLabel,
  pendingLabel,
  notice,
  footer,
  children,
}: {
  id: string;
  title: string;
  errorTitle: string;
  submission: SubmitState;
  submitLabel: string;
  pendingLabel: string;
  notice?: ReactNode;
  footer: ReactNode;
  children: ReactNode;
}) {
  const submit = (event: FormEvent) => {
    event.preventDefault();
    submission.mutate();
  };
  return (
    <div className="auth-page">
      <form className="auth-card" onSubmit={submit} aria-labelledby={id}>
        <h1 id={id}>{title}</h1>
        {notice}
        {submission.isError && <ErrorMessage error={submission.error} title={errorTitle} />}
        {children}
        <button type="submit" disabled={submission.isPending}>
          {submission.isPending ? pendingLabel : submitLabel}
        </button>
        <p className="muted">{footer}</p>
      </form>
    </div>
  );
}

/** A labelled input bound to a string state. */
export function TextField({
  label,
  hint,
  value,
  onChange,
  ...input
}: {
  label: string;
  hint?: string;
  value: string;
  onChange: (value: string) => void;
  type: "email" | "password" | "text";
  autoComplete: string;
  required?: boolean;
  minLength?: number;
}) {
  return (
    <label>
      <span>
        {label}
        {hint && <span className="muted small"> ({hint})</span>}
      </span>
      <input {...input} value={value} onChange={(event) => onChange(event.target.value)} />
    </label>
  );
}
