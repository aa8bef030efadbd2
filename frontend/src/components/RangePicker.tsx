import { useQuery } from "@tanstack/react-query";
import { useMemo } from "react";
import { useSearchParams } from "react-router";
import { browserTimeZone, isoDay, timeZones } from "../format";
import { meQuery, type Range, type TimeZone } from "../queries";

const DAY_MS = 86_400_000;

function addDays(day: string, days: number): string {
  const date = new Date(`${day}T00:00:00Z`);
  return new Date(date.getTime() + days * DAY_MS).toISOString().slice(0, 10);
}

/** The reporting range in the URL (`from`, `to` inclusive days, `tz`), defaulting to the
 * last 30 days in the user's saved time zone; `range` is what the analytics API takes. */
export function useRange(): {
  from: string;
  to: string;
  tz: string;
  range: Required<Range>;
  set: (next: Partial<{ from: string; to: string; tz: string }>) => void;
} {
  const [params, setParams] = useSearchParams();
  const me = useQuery(meQuery());
  // A zone the API does not know is answered with a clear 422, shown by the page.
  const tz = (params.get("tz") ?? me.data?.timezone ?? browserTimeZone()) as TimeZone;
  const today = isoDay(new Date(), tz);
  const to = params.get("to") ?? today;
  const from = params.get("from") ?? addDays(to, -29);
  const range = useMemo(
    () => ({ start: `${from}T00:00:00`, end: `${addDays(to, 1)}T00:00:00`, tz }),
    [from, to, tz],
  );
  const set = (next: Partial<{ from: string; to: string; tz: string }>) => {
    const merged = new URLSearchParams(params);
    for (const [key, value] of Object.entries(next)) {
      if (value) merged.set(key, value);
      else merged.delete(key);
    }
    setParams(merged, { replace: true });
  };
  return { from, to, tz, range, set };
}

export function RangePicker({ value }: { value: ReturnType<typeof useRange> }) {
  const zones = useMemo(() => {
    const all = timeZones();
    return all.includes(value.tz) ? all : [value.tz, ...all];
  }, [value.tz]);
  return (
    <fieldset className="range-picker">
      <legend className="visually-hidden">Reporting period</legend>
      <label>
        From
        <input
          type="date"
          value={value.from}
          max={value.to}
          onChange={(event) => value.set({ from: event.target.value })}
        />
      </label>
      <label>
        To
        <input
          type="date"
          value={value.to}
          min={value.from}
          onChange={(event) => value.set({ to: event.target.value })}
        />
      </label>
      <label>
        Time zone
        <select value={value.tz} onChange={(event) => value.set({ tz: event.target.value })}>
          {zones.map((zone) => (
            <option key={zone} value={zone}>
              {zone}
            </option>
          ))}
        </select>
      </label>
    </fieldset>
  );
}
