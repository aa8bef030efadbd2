import { useMutation } from "@tanstack/react-query";
import { useState } from "react";
import { Link, useNavigate } from "react-router";
import { api, unwrap } from "../api/client";
import { AuthCard, TextField } from "../components/AuthCard";
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
  return (
    <AuthCard
      id="register-title"
      title="Create your account"
      errorTitle="Registration failed"
      submission={mutation}
      submitLabel="Create account"
      pendingLabel="Creating…"
      footer={
        <>
          Already registered? <Link to="/login">Sign in</Link>
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
        label="Name"
        hint="optional"
        type="text"
        autoComplete="name"
        value={fullName}
        onChange={setFullName}
      />
      <TextField
        label="Password"
        hint="8 characters or more"
        type="password"
        autoComplete="new-password"
        required
        minLength={8}
        value={password}
        onChange={setPassword}
      />
    </AuthCard>
  );
}
