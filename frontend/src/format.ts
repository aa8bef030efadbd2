/** Display helpers shared by the pages. */

export function formatNumber(value: number | null | undefined): string {
  return value === null || value === undefined ? "—" : value.toLocaleString("en-US");
}

/** A list's total: "10,000+" when the server stopped counting (more than that many match). */
export function formatTotal(total: number, exact: boolean = true): string {
  return `${total.toLocaleString("en-US")}${exact ? "" : "+"}`;
}

export function formatUsd(value: string | number | null | undefined, digits = 4): string {
  if (value === null || value === undefined || value === "") return "—";
  const number = typeof value === "number" ? value : Number(value);
  return Number.isFinite(number) ? `$${number.toFixed(digits)}` : "—";
}

export function formatMs(value: number | null | undefined): string {
  if (value === null || value === undefined) return "—";
  return value >= 1000 ? `${(value / 1000).toFixed(2)} s` : `${Math.round(value)} ms`;
}

export function formatPercent(value: number | null | undefined, digits = 0): string {
  return value === null || value === undefined ? "—" : `${(value * 100).toFixed(digits)}%`;
}

export function formatDateTime(value: string | null | undefined, timeZone?: string): string {
  if (!value) return "—";
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return value;
  return date.toLocaleString("en-GB", {
    timeZone,
    year: "numeric",
    month: "short",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
  });
}

export function formatDay(value: string): string {
  return value.slice(0, 10);
}

export function titleCase(value: string | null | undefined): string {
  if (!value) return "—";
  return value.charAt(0).toUpperCase() + value.slice(1).replaceAll("_", " ");
}

/** yyyy-mm-dd of a date in a time zone. */
export function isoDay(date: Date, timeZone?: string): string {
  return new Intl.DateTimeFormat("en-CA", { timeZone, dateStyle: "short" }).format(date);
}

export function browserTimeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
}

export function timeZones(): string[] {
  const intl = Intl as typeof Intl & { supportedValuesOf?: (key: string) => string[] };
  const zones = intl.supportedValuesOf?.("timeZone") ?? [];
  return zones.includes("UTC") ? zones : ["UTC", ...zones];
}

export const CATEGORIES = ["bug", "feature", "billing", "support", "other"] as const;
export const URGENCIES = ["low", "medium", "high"] as const;
export const SENTIMENTS = ["positive", "neutral", "negative"] as const;
export const SOURCES = ["llm", "local", "fallback", "batch"] as const;
export const ZENDESK_STATUSES = ["new", "open", "pending", "hold", "solved", "closed"] as const;
