import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent, type ReactNode } from "react";
import { api, unwrap, type Schemas } from "../api/client";
import { ErrorMessage, QueryState } from "../components/Status";
import { formatMs, timeZones } from "../format";
import { integrationsStatusQuery, settingsQuery } from "../queries";

type SettingsOut = Schemas["SettingsOut"];
type SettingsUpdate = Schemas["SettingsUpdate"];
type SecretState = Schemas["SecretState"];

export function SettingsPage() {
  const query = useQuery(settingsQuery());
  return (
    <>
      <div className="page-header">
        <h1>Settings</h1>
      </div>
      <QueryState query={query} label="your settings">
        {(settings) => (
          <div className="settings">
            {settings.warnings.length > 0 && (
              <div className="alert alert-info" role="status">
                {settings.warnings.map((warning) => (
                  <p key={warning}>{warning}</p>
                ))}
              </div>
            )}
            <IntegrationStatus />
            <ProfileForm settings={settings} />
            <ZendeskForm settings={settings} />
            <WebhookSetup settings={settings} />
            <LlmForm settings={settings} />
            <ProcessingForm settings={settings} />
          </div>
        )}
      </QueryState>
    </>
  );
}

/** A form that PUTs a partial update and shows what happened. */
function SettingsForm({
  title,
  id,
  build,
  children,
  footer,
}: {
  title: string;
  id: string;
  build: () => SettingsUpdate;
  children: ReactNode;
  footer?: ReactNode;
}) {
  const queryClient = useQueryClient();
  const mutation = useMutation({
    mutationFn: () => unwrap(api.PUT("/settings/", { body: build() })),
    onSuccess: (data) => {
      queryClient.setQueryData(settingsQuery().queryKey, data);
      void queryClient.invalidateQueries();
    },
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    mutation.mutate();
  };
  return (
    <form className="card settings-section" onSubmit={submit} aria-labelledby={id}>
      <h2 id={id}>{title}</h2>
      {children}
      {mutation.isError && <ErrorMessage error={mutation.error} title="Not saved" />}
      <div className="row">
        <button type="submit" disabled={mutation.isPending}>
          {mutation.isPending ? "Saving…" : "Save"}
        </button>
        <span role="status" className="ok">
          {mutation.isSuccess ? "Saved" : ""}
        </span>
        {footer}
      </div>
    </form>
  );
}

function IntegrationStatus() {
  const query = useQuery(integrationsStatusQuery());
  return (
    <section className="card settings-section" aria-labelledby="status-title">
      <h2 id="status-title">Where things come from</h2>
      <QueryState query={query} label="the integration status">
        {(status) => (
          <dl className="facts">
            <dt>Zendesk</dt>
            <dd>
              {status.zendesk.source}: {status.zendesk.detail}
            </dd>
            <dt>LLM</dt>
            <dd>
              {status.openai.source}: {status.openai.detail}
            </dd>
          </dl>
        )}
      </QueryState>
    </section>
  );
}

function ProfileForm({ settings }: { settings: SettingsOut }) {
  const [fullName, setFullName] = useState(settings.profile.full_name ?? "");
  const [timezone, setTimezone] = useState(settings.profile.timezone);
  const zones = timeZones();
  return (
    <SettingsForm
      title="Profile"
      id="profile-title"
      build={() => ({ full_name: fullName, timezone })}
    >
      <p className="muted small">Signed in as {settings.profile.email}.</p>
      <div className="row">
        <label className="grow">
          Name
          <input value={fullName} onChange={(event) => setFullName(event.target.value)} />
        </label>
        <label className="grow">
          Time zone (days in analytics start at midnight here)
          <select value={timezone} onChange={(event) => setTimezone(event.target.value)}>
            {(zones.includes(timezone) ? zones : [timezone, ...zones]).map((zone) => (
              <option key={zone}>{zone}</option>
            ))}
          </select>
        </label>
      </div>
    </SettingsForm>
  );
}

/** A write-only secret: the saved value is never shown, only its mask. Empty keeps it. */
function SecretInput({
  label,
  state,
  value,
  onChange,
}: {
  label: string;
  state: SecretState;
  value: string;
  onChange: (value: string) => void;
}) {
  return (
    <label className="grow">
      {label}{" "}
      <span className="muted small">
        {state.is_set ? `set (${state.masked ?? "hidden"}); type to replace` : "not set"}
      </span>
      <input
        type="password"
        autoComplete="off"
        value={value}
        placeholder={state.is_set ? (state.masked ?? "••••") : ""}
        onChange={(event) => onChange(event.target.value)}
      />
    </label>
  );
}

function TestButton({ kind }: { kind: "zendesk" | "openai" }) {
  const mutation = useMutation<Schemas["ZendeskTestResult"] | Schemas["OpenAITestResult"]>({
    mutationFn: () =>
      kind === "zendesk"
        ? unwrap(api.POST("/settings/zendesk/test"))
        : unwrap(api.POST("/settings/openai/test")),
  });
  const result = mutation.data;
  return (
    <span className="test-result">
      <button
        type="button"
        className="button-secondary"
        onClick={() => mutation.mutate()}
        disabled={mutation.isPending}
      >
        {mutation.isPending
          ? "Testing…"
          : `Test ${kind === "zendesk" ? "Zendesk" : "LLM"} connection`}
      </button>
      <span role="status" aria-live="polite">
        {result && (
          <span className={result.ok ? "ok" : "error-text"}>
            {result.ok ? "Connected" : "Failed"} in {formatMs(result.latency_ms)}: {result.detail}
            {result.upstream_status ? ` (HTTP ${result.upstream_status})` : ""}
            {result.warnings.map((warning) => ` · ${warning}`)}
          </span>
        )}
      </span>
      {mutation.isError && <ErrorMessage error={mutation.error} title="Test failed" />}
    </span>
  );
}

function ZendeskForm({ settings }: { settings: SettingsOut }) {
  const integration = settings.integration;
  const [url, setUrl] = useState(integration.zendesk_url ?? "");
  const [email, setEmail] = useState(integration.zendesk_email ?? "");
  const [token, setToken] = useState("");
  const [secret, setSecret] = useState("");
  return (
    <SettingsForm
      title="Zendesk"
      id="zendesk-title"
      build={() => ({
        zendesk_url: url || null,
        zendesk_email: email || null,
        ...(token ? { zendesk_api_token: token } : {}),
        ...(secret ? { zendesk_webhook_secret: secret } : {}),
      })}
      footer={<TestButton kind="zendesk" />}
    >
      {integration.sandbox_in_use && (
        <p className="alert alert-info">
          No account set: the built-in sandbox answers for Zendesk. Leave the URL empty to keep
          using it.
        </p>
      )}
      <div className="row">
        <label className="grow">
          Zendesk URL or subdomain
          <input value={url} placeholder="acme" onChange={(event) => setUrl(event.target.value)} />
        </label>
        <label className="grow">
          Agent email
          <input type="email" value={email} onChange={(event) => setEmail(event.target.value)} />
        </label>
      </div>
      <div className="row">
        <SecretInput
          label="API token"
          state={integration.zendesk_api_token}
          value={token}
          onChange={setToken}
        />
        <SecretInput
          label="Webhook signing secret"
          state={integration.zendesk_webhook_secret}
          value={secret}
          onChange={setSecret}
        />
      </div>
    </SettingsForm>
  );
}

function WebhookSetup({ settings }: { settings: SettingsOut }) {
  const [copied, setCopied] = useState(false);
  const url = settings.integration.webhook_url;
  const copy = async () => {
    await navigator.clipboard.writeText(url).then(
      () => setCopied(true),
      () => setCopied(false),
    );
  };
  return (
    <section className="card settings-section" aria-labelledby="webhook-title">
      <h2 id="webhook-title">Webhook: new tickets in seconds</h2>
      <div className="row">
        <label className="grow">
          Your webhook URL
          <input readOnly value={url} onFocus={(event) => event.target.select()} />
        </label>
        <button type="button" className="button-secondary" onClick={() => void copy()}>
          Copy URL
        </button>
        <span role="status" className="ok">
          {copied ? "Copied" : ""}
        </span>
      </div>
      <ol className="steps">
        <li>
          In Zendesk{" "}
          <strong>Admin Center → Apps and integrations → Webhooks → Create webhook</strong>, choose{" "}
          <em>Trigger or automation</em>, name it <code>Ticket Triage</code>, paste the URL above,
          method <strong>POST</strong>, format <strong>JSON</strong>, authentication{" "}
          <strong>None</strong>, and create it.
        </li>
        <li>
          On the webhook&apos;s page reveal the <strong>signing secret</strong> and paste it into{" "}
          <em>Webhook signing secret</em> above, then save.
        </li>
        <li>
          <strong>Objects and rules → Triggers → Create trigger</strong>: condition{" "}
          <em>Ticket · Is · Created</em>; action <em>Notify by → Active webhook · Ticket Triage</em>{" "}
          with the body <code>{'{"ticket_id": "{{ticket.id}}"}'}</code>.
        </li>
        <li>
          Create a test ticket: its tags and internal note appear within seconds; its job is listed
          on the Jobs page with origin webhook.
        </li>
      </ol>
      <p className="muted small">
        The URL must be reachable by Zendesk over HTTPS (set PUBLIC_BASE_URL).
      </p>
    </section>
  );
}

function LlmForm({ settings }: { settings: SettingsOut }) {
  const integration = settings.integration;
  const [key, setKey] = useState("");
  const [model, setModel] = useState(integration.openai_model);
  const [baseUrl, setBaseUrl] = useState(integration.openai_base_url ?? "");
  return (
    <SettingsForm
      title="LLM (OpenAI or compatible)"
      id="llm-title"
      build={() => ({
        openai_model: model,
        openai_base_url: baseUrl || null,
        ...(key ? { openai_api_key: key } : {}),
      })}
      footer={<TestButton kind="openai" />}
    >
      <div className="row">
        <SecretInput
          label="API key"
          state={integration.openai_api_key}
          value={key}
          onChange={setKey}
        />
        <label className="grow">
          Model
          <input value={model} onChange={(event) => setModel(event.target.value)} />
        </label>
        <label className="grow">
          Base URL <span className="muted small">(empty: api.openai.com)</span>
          <input value={baseUrl} onChange={(event) => setBaseUrl(event.target.value)} />
        </label>
      </div>
      {integration.openai_model_shutdown_date && (
        <p className="alert alert-info">
          This model is retired on {integration.openai_model_shutdown_date}.
        </p>
      )}
    </SettingsForm>
  );
}

function Check({
  label,
  checked,
  onChange,
}: {
  label: string;
  checked: boolean;
  onChange: (value: boolean) => void;
}) {
  return (
    <label className="check">
      <input
        type="checkbox"
        checked={checked}
        onChange={(event) => onChange(event.target.checked)}
      />
      {label}
    </label>
  );
}

function ProcessingForm({ settings }: { settings: SettingsOut }) {
  const i = settings.integration;
  const c = settings.cascade;
  const [mode, setMode] = useState(i.analysis_mode);
  const [writeTags, setWriteTags] = useState(i.write_tags);
  const [writeNote, setWriteNote] = useState(i.write_note);
  const [replyDraft, setReplyDraft] = useState(i.reply_draft);
  const [redactPii, setRedactPii] = useState(i.redact_pii);
  const [prefix, setPrefix] = useState(i.tag_prefix);
  const [polling, setPolling] = useState(i.polling_enabled);
  const [interval, setInterval] = useState(String(i.polling_interval_s));
  const [precision, setPrecision] = useState(String(c.target_precision));
  const [learn, setLearn] = useState(c.learn_from_llm);
  const [batchApi, setBatchApi] = useState(c.use_llm_batch_api);
  return (
    <SettingsForm
      title="Processing and cascade"
      id="processing-title"
      build={() => ({
        analysis_mode: mode as SettingsUpdate["analysis_mode"],
        write_tags: writeTags,
        write_note: writeNote,
        reply_draft: replyDraft,
        redact_pii: redactPii,
        tag_prefix: prefix,
        polling_enabled: polling,
        polling_interval_s: Number(interval),
        target_precision: Number(precision),
        learn_from_llm: learn,
        use_llm_batch_api: batchApi,
      })}
    >
      <div className="row">
        <label>
          Analysis mode
          <select value={mode} onChange={(event) => setMode(event.target.value)}>
            <option value="auto">auto: cascade with an LLM key, offline otherwise</option>
            <option value="cascade">cascade: offline model first, LLM when unsure</option>
            <option value="llm">llm: every ticket to the LLM</option>
            <option value="local">local: offline model only</option>
          </select>
        </label>
        <label>
          Tag prefix
          <input
            value={prefix}
            pattern="[a-z][a-z0-9_]{0,30}"
            onChange={(event) => setPrefix(event.target.value)}
          />
        </label>
        <label>
          Target precision (cascade)
          <input
            type="number"
            min={0.5}
            max={0.999}
            step={0.01}
            value={precision}
            onChange={(event) => setPrecision(event.target.value)}
          />
        </label>
        <label>
          Polling interval (s)
          <input
            type="number"
            min={60}
            max={86400}
            step={1}
            value={interval}
            onChange={(event) => setInterval(event.target.value)}
          />
        </label>
      </div>
      <div className="checks">
        <Check label="Write tags to Zendesk" checked={writeTags} onChange={setWriteTags} />
        <Check label="Post an internal note" checked={writeNote} onChange={setWriteNote} />
        <Check label="Draft a reply (LLM)" checked={replyDraft} onChange={setReplyDraft} />
        <Check label="Redact PII before the LLM" checked={redactPii} onChange={setRedactPii} />
        <Check label="Poll Zendesk for new tickets" checked={polling} onChange={setPolling} />
        <Check label="Learn from confident LLM answers" checked={learn} onChange={setLearn} />
        <Check
          label="Use the LLM Batch API for non-urgent tickets"
          checked={batchApi}
          onChange={setBatchApi}
        />
      </div>
    </SettingsForm>
  );
}
