/** The bearer token, kept in localStorage for its lifetime (`expires_in` of the login). */

const KEY = "ticket-triage.session";
const FLASH_KEY = "ticket-triage.flash";

interface Session {
  token: string;
  expiresAt: number;
}

type Listener = () => void;
const listeners = new Set<Listener>();

function read(): Session | null {
  try {
    const raw = localStorage.getItem(KEY);
    if (!raw) return null;
    const session = JSON.parse(raw) as Session;
    return typeof session.token === "string" && typeof session.expiresAt === "number"
      ? session
      : null;
  } catch {
    return null;
  }
}

export function saveSession(token: string, expiresInSeconds: number): void {
  const session: Session = { token, expiresAt: Date.now() + expiresInSeconds * 1000 };
  localStorage.setItem(KEY, JSON.stringify(session));
  listeners.forEach((listener) => listener());
}

/** The token when there is one that has not expired yet. */
export function currentToken(): string | null {
  const session = read();
  if (!session) return null;
  if (session.expiresAt <= Date.now()) {
    endSession("Your session expired. Sign in again.");
    return null;
  }
  return session.token;
}

export function hasSession(): boolean {
  return currentToken() !== null;
}

/** Forget the token; `message` is shown once on the login page. */
export function endSession(message?: string): void {
  const had = localStorage.getItem(KEY) !== null;
  localStorage.removeItem(KEY);
  if (message) sessionStorage.setItem(FLASH_KEY, message);
  if (had) listeners.forEach((listener) => listener());
}

export function takeFlash(): string | null {
  const message = sessionStorage.getItem(FLASH_KEY);
  sessionStorage.removeItem(FLASH_KEY);
  return message;
}

export function onSessionChange(listener: Listener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}
