import { useMutation } from "@tanstack/react-query";
import { useState } from "react";
import { Link, useLocation, useNavigate } from "react-router";
import { saveSession, takeFlash } from "../api/auth";
import { api, unwrap } from "../api/client";
import { AuthCard, TextField } from "../components/AuthCard";

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
  return (
    <AuthCard
      id="login-title"
      title="Sign in to Ticket Triage"
      errorTitle="Sign-in failed"
      submission={mutation}
      submitLabel="Sign in"
      pendingLabel="Signing in…"
      notice={
        flash && (
          <div className="alert alert-info" role="status">
            {flash}
          </div>
        )
      }
      footer={
        <>
          No account yet? <Link to="/register">Create one</Link>
        </>
      }
    >
      <TextField
        label="Email"
        type="email"
        autoComplete="username"
        required
        value={email}
        onChange={setEmail}
      />
      <TextField
        label="Password"
        type="password"
        autoComplete="current-password"
        required
        value={password}
        onChange={setPassword}
      />
    </AuthCard>
  );
}
