import type { Schemas } from "../api/client";

type LabelCount = Schemas["LabelCount"];

export const COLORS: Record<string, string> = {
  bug: "#d64545",
  feature: "#2f5bd3",
  billing: "#c98a00",
  support: "#2c9c6a",
  other: "#7a7f8c",
  low: "#2c9c6a",
  medium: "#c98a00",
  high: "#d64545",
  positive: "#2c9c6a",
  neutral: "#7a7f8c",
  negative: "#d64545",
  llm: "#2f5bd3",
  local: "#2c9c6a",
  fallback: "#c98a00",
  batch: "#8a4fd3",
};

/** The text version of a distribution: what a screen reader reads instead of the chart. */
export function summary(items: LabelCount[]): string {
  if (items.length === 0) return "No tickets in this period.";
  return items
    .map((item) => `${item.label} ${item.count} (${item.percentage.toFixed(0)}%)`)
    .join(", ");
}

/** One horizontal bar split by share: compact for sentiment and source mixes. */
export function ShareBar({ items, title }: { items: LabelCount[]; title: string }) {
  const total = items.reduce((sum, item) => sum + item.count, 0);
  return (
    <figure className="chart" aria-label={title}>
      <div className="share-bar" aria-hidden="true">
        {items
          .filter((item) => item.count > 0)
          .map((item) => (
            <span
              key={item.label}
              style={{
                width: `${(item.count / Math.max(total, 1)) * 100}%`,
                background: COLORS[item.label] ?? "#999",
              }}
              title={`${item.label}: ${item.count}`}
            >
              {item.percentage >= 12 ? `${item.label} ${item.percentage.toFixed(0)}%` : ""}
            </span>
          ))}
      </div>
      <figcaption className="chart-summary">{summary(items)}</figcaption>
    </figure>
  );
}
