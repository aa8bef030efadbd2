import { useQuery } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { Link, useSearchParams } from "react-router";
import { Badge, Empty, QueryState } from "../components/Status";
import {
  CATEGORIES,
  SENTIMENTS,
  SOURCES,
  URGENCIES,
  ZENDESK_STATUSES,
  formatDateTime,
  formatPercent,
  formatTotal,
} from "../format";
import { ticketsQuery, type TicketFilters } from "../queries";

const FILTERS = [
  { name: "category", label: "Category", options: CATEGORIES },
  { name: "urgency", label: "Urgency", options: URGENCIES },
  { name: "sentiment", label: "Sentiment", options: SENTIMENTS },
  { name: "source", label: "Source", options: SOURCES },
  { name: "status", label: "Zendesk status", options: ZENDESK_STATUSES },
] as const;

const SORTABLE = [
  { key: "zendesk_ticket_id", label: "Ticket" },
  { key: "subject", label: "Subject" },
  { key: "updated_at", label: "Updated" },
] as const;

const PAGE_SIZE = 25;

/** Every filter, the sort and the page live in the URL: a view can be shared or bookmarked. */
function filtersFrom(params: URLSearchParams): TicketFilters {
  const filters: Record<string, string | number> = {};
  for (const { name } of FILTERS) {
    const value = params.get(name);
    if (value) filters[name] = value;
  }
  for (const name of ["q", "start", "end", "sort"]) {
    const value = params.get(name);
    if (value) filters[name] = name === "start" || name === "end" ? `${value}T00:00:00` : value;
  }
  filters.page = Math.max(1, Number(params.get("page") ?? 1) || 1);
  filters.page_size = PAGE_SIZE;
  return filters as TicketFilters;
}

export function TicketsPage() {
  const [params, setParams] = useSearchParams();
  const filters = filtersFrom(params);
  const query = useQuery(ticketsQuery(filters));
  const [text, setText] = useState(params.get("q") ?? "");

  const update = (changes: Record<string, string | null>, keepPage = false) => {
    const next = new URLSearchParams(params);
    for (const [key, value] of Object.entries(changes)) {
      if (value) next.set(key, value);
      else next.delete(key);
    }
    if (!keepPage) next.delete("page");
    setParams(next);
  };
  const search = (event: FormEvent) => {
    event.preventDefault();
    update({ q: text.trim() || null });
  };
  const sort = params.get("sort") ?? "-updated_at";
  const toggleSort = (key: string) => update({ sort: sort === `-${key}` ? key : `-${key}` }, false);
  const sortState = (key: string): "ascending" | "descending" | "none" =>
    sort === key ? "ascending" : sort === `-${key}` ? "descending" : "none";

  return (
    <>
      <div className="page-header">
        <h1>Tickets</h1>
      </div>
      <form className="filters card" onSubmit={search} aria-label="Ticket filters">
        <label className="grow">
          Subject contains
          <input type="search" value={text} onChange={(event) => setText(event.target.value)} />
        </label>
        {FILTERS.map((filter) => (
          <label key={filter.name}>
            {filter.label}
            <select
              value={params.get(filter.name) ?? ""}
              onChange={(event) => update({ [filter.name]: event.target.value || null })}
            >
              <option value="">Any</option>
              {filter.options.map((option) => (
                <option key={option} value={option}>
                  {option}
                </option>
              ))}
            </select>
          </label>
        ))}
        <label>
          Updated from
          <input
            type="date"
            value={params.get("start") ?? ""}
            onChange={(event) => update({ start: event.target.value || null })}
          />
        </label>
        <label>
          Updated before
          <input
            type="date"
            value={params.get("end") ?? ""}
            onChange={(event) => update({ end: event.target.value || null })}
          />
        </label>
        <div className="filter-actions">
          <button type="submit">Search</button>
          <button
            type="button"
            className="button-quiet"
            onClick={() => {
              setText("");
              setParams(new URLSearchParams());
            }}
          >
            Clear
          </button>
        </div>
      </form>
      <QueryState query={query} label="tickets">
        {(page) =>
          page.total === 0 ? (
            <Empty>
              No processed tickets match. {params.toString() ? "Clear the filters, or " : ""}
              process some from the <Link to="/jobs">Jobs</Link> page.
            </Empty>
          ) : (
            <section className="card" aria-busy={query.isFetching}>
              <table>
                <caption className="visually-hidden">
                  Processed tickets, sorted by {sort.replace("-", "")}
                  {sort.startsWith("-") ? " descending" : " ascending"}
                </caption>
                <thead>
                  <tr>
                    {SORTABLE.slice(0, 2).map((column) => (
                      <th key={column.key} scope="col" aria-sort={sortState(column.key)}>
                        <button
                          type="button"
                          className="sort"
                          onClick={() => toggleSort(column.key)}
                        >
                          {column.label}
                          <SortMark state={sortState(column.key)} />
                        </button>
                      </th>
                    ))}
                    <th scope="col">Category</th>
                    <th scope="col">Urgency</th>
                    <th scope="col">Sentiment</th>
                    <th scope="col">Source</th>
                    <th scope="col">Confidence</th>
                    <th scope="col">Status</th>
                    <th scope="col" aria-sort={sortState("updated_at")}>
                      <button
                        type="button"
                        className="sort"
                        onClick={() => toggleSort("updated_at")}
                      >
                        Updated
                        <SortMark state={sortState("updated_at")} />
                      </button>
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {page.items.map((ticket) => (
                    <tr key={ticket.id}>
                      <td>
                        <Link to={`/tickets/${ticket.zendesk_ticket_id}`}>
                          #{ticket.zendesk_ticket_id}
                        </Link>
                      </td>
                      <td className="subject">{ticket.subject}</td>
                      <td>
                        <Badge value={ticket.analysis?.category} />
                      </td>
                      <td>
                        <Badge value={ticket.analysis?.urgency} />
                      </td>
                      <td>
                        <Badge value={ticket.analysis?.sentiment} />
                      </td>
                      <td>{ticket.analysis?.source ?? "—"}</td>
                      <td>{formatPercent(ticket.analysis?.confidence)}</td>
                      <td>{ticket.status ?? "—"}</td>
                      <td>{formatDateTime(ticket.updated_at)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
              <Pagination
                page={page.page}
                pages={Math.max(1, Math.ceil(page.total / page.page_size))}
                total={page.total}
                exact={page.total_is_exact}
                onPage={(next) => update({ page: String(next) }, true)}
              />
            </section>
          )
        }
      </QueryState>
    </>
  );
}

function SortMark({ state }: { state: "ascending" | "descending" | "none" }) {
  return (
    <span aria-hidden="true" className="sort-mark">
      {state === "ascending" ? "▲" : state === "descending" ? "▼" : "↕"}
    </span>
  );
}

function Pagination({
  page,
  pages,
  total,
  exact,
  onPage,
}: {
  page: number;
  pages: number;
  total: number;
  exact: boolean;
  onPage: (page: number) => void;
}) {
  // Past 10,000 matches (1,000 with a subject search) the server stops counting: "more than total", so there is always a
  // next page.
  const last = exact && page >= pages;
  return (
    <nav className="pagination" aria-label="Pages">
      <button type="button" disabled={page <= 1} onClick={() => onPage(page - 1)}>
        Previous
      </button>
      <span>
        Page {page} of {exact ? pages : `${Math.max(pages, page)}+`} · {formatTotal(total, exact)}{" "}
        tickets
      </span>
      <button type="button" disabled={last} onClick={() => onPage(page + 1)}>
        Next
      </button>
    </nav>
  );
}
