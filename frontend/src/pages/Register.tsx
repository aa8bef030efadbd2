import { useMutation } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { Link, useNavigate } from "react-router";
import { api, unwrap } from "../api/client";
import { ErrorMessage } from "../components/Status";
import { browserTimeZone } from "../format";
import { login } from "./Login";

export function RegisterPage() {
  const navigate = useNavigate();
  const [email, setEmail] = useState("");
  const [fullName, setFullName] = useState("");
  const [password, setPassword] = useState("");
  const mutation = useMutation({
    mutationFn: async () => {
      await unwrap(
        api.POST("/auth/register", {
          body: { email, password, full_name: fullName || null },
        }),
      );
      await login(email, password);
      // The browser's zone is a better first guess than UTC for the day boundaries.
      await unwrap(api.PUT("/settings/", { body: { timezone: browserTimeZone() } })).catch(
        () => undefined,
      );
    },
    onSuccess: () => navigate("/", { replace: true }),
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    mutation.mutate();
  };
  return (
    <div className="auth-page">
      <form className="auth-card" onSubmit={submit} aria-labelledby="register-title">
        <h1 id="register-title">Create your account</h1>
        {mutation.isError && <ErrorMessage error={mutation.error} title="Registration failed" />}
        <label>
          Email
          <input
            type="email"
            autoComplete="username"
            required
            value={email}
            onChange={(event) => setEmail(event.target.value)}
          />
        </label>
        <label>
          Name <span className="muted small">(optional)</span>
          <input
            type="text"
            autoComplete="name"
            value={fullName}
            onChange={(event) => setFullName(event.target.value)}
          />
        </label>
        <label>
          Password <span className="muted small">(8 characters or more)</span>
          <input
            type="password"
            autoComplete="new-password"
            required
            minLength={8}
            value={password}
            onChange={(event) => setPassword(event.target.value)}
          />
        </label>
        <button type="submit" disabled={mutation.isPending}>
          {mutation.isPending ? "Creating…" : "Create account"}
        </button>
        <p className="muted">
          Already registered? <Link to="/login">Sign in</Link>
        </p>
      </form>
    </div>
  );
}
