import { useMutation } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { Link, useLocation, useNavigate } from "react-router";
import { saveSession, takeFlash } from "../api/auth";
import { api, unwrap } from "../api/client";
import { ErrorMessage } from "../components/Status";

export async function login(email: string, password: string) {
  const token = await unwrap(
    api.POST("/auth/login", {
      body: { username: email, password, grant_type: "password", scope: "" },
      bodySerializer: (body) => new URLSearchParams(body as Record<string, string>),
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
    }),
  );
  saveSession(token.access_token, token.expires_in);
  return token;
}

export function LoginPage() {
  const navigate = useNavigate();
  const location = useLocation();
  const [flash] = useState(takeFlash);
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const mutation = useMutation({
    mutationFn: () => login(email, password),
    onSuccess: () => {
      const from = (location.state as { from?: string } | null)?.from;
      navigate(from && from !== "/login" ? from : "/", { replace: true });
    },
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    mutation.mutate();
  };
  return (
    <div className="auth-page">
      <form className="auth-card" onSubmit={submit} aria-labelledby="login-title">
        <h1 id="login-title">Sign in to Ticket Triage</h1>
        {flash && (
          <div className="alert alert-info" role="status">
            {flash}
          </div>
        )}
        {mutation.isError && <ErrorMessage error={mutation.error} title="Sign-in failed" />}
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
          Password
          <input
            type="password"
            autoComplete="current-password"
            required
            value={password}
            onChange={(event) => setPassword(event.target.value)}
          />
        </label>
        <button type="submit" disabled={mutation.isPending}>
          {mutation.isPending ? "Signing in…" : "Sign in"}
        </button>
        <p className="muted">
          No account yet? <Link to="/register">Create one</Link>
        </p>
      </form>
    </div>
  );
}
