// The page `cairn configure` serves: a cluster's components as tiles by
// category, a page per component with its form, a review of what `cairn
// diff` would show, and Save. Every check, diff and write is the server's
// (the same library code as the CLI); this page only holds the draft.

import { render } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { SchemaForm } from './form.jsx';

async function api(path, body) {
  const init =
    body === undefined
      ? {}
      : { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) };
  const response = await fetch(path, { credentials: 'same-origin', ...init });
  const data = await response.json().catch(() => ({ error: `${response.status} ${response.statusText}` }));
  if (!response.ok) throw new Error(data.error || response.statusText);
  return data;
}

function draftOf(state) {
  const components = {};
  for (const c of state.components) components[c.name] = { enabled: c.enabled, values: c.values };
  return { components };
}

// Field problems by component, then by field path.
function problemsByComponent(check) {
  const out = {};
  for (const p of check?.fields || []) {
    const at = (out[p.component] ||= {});
    (at[p.field] ||= []).push(p.message);
  }
  return out;
}

function Toggle({ component, enabled, onChange }) {
  return (
    <label class="toggle">
      <input
        type="checkbox"
        role="switch"
        aria-label={`${component.title || component.name} on`}
        data-toggle={component.name}
        checked={enabled}
        onChange={(e) => onChange(e.currentTarget.checked)}
      />
      <span>{enabled ? 'On' : 'Off'}</span>
    </label>
  );
}

function count(problems) {
  return Object.values(problems || {}).reduce((n, list) => n + list.length, 0);
}

function Tiles({ state, draft, problems, setEnabled, open }) {
  const categories = {};
  for (const c of state.components) (categories[c.category || 'other'] ||= []).push(c);
  return (
    <div class="tiles-page">
      {Object.keys(categories)
        .sort()
        .map((category) => (
          <section class="category" data-category={category}>
            <h2>{category}</h2>
            <div class="tiles">
              {categories[category].map((c) => {
                const n = count(problems[c.name]);
                const enabled = draft.components[c.name].enabled;
                return (
                  <article class={`tile${enabled ? ' on' : ''}`} data-component={c.name}>
                    <header>
                      <h3>{c.title || c.name}</h3>
                      <Toggle component={c} enabled={enabled} onChange={(on) => setEnabled(c.name, on)} />
                    </header>
                    <p>{c.description}</p>
                    <footer>
                      <span class="version">
                        {c.name} {c.version}
                        {c.from_stack ? ` · ${c.from_stack}` : ''}
                      </span>
                      {n ? (
                        <span class="badge" data-problem-count={n}>
                          {n} {n === 1 ? 'problem' : 'problems'}
                        </span>
                      ) : null}
                      <button type="button" onClick={() => open(c.name)}>
                        Configure
                      </button>
                    </footer>
                  </article>
                );
              })}
            </div>
          </section>
        ))}
    </div>
  );
}

function Facts({ title, facts }) {
  if (!facts?.length) return null;
  return (
    <section>
      <h3>{title}</h3>
      <ul class="facts">
        {facts.map((f) => (
          <li>
            <code>{f.key}</code>
            {f.required ? ' (required)' : ''}: {f.description}
          </li>
        ))}
      </ul>
    </section>
  );
}

function ComponentPage({ component: c, draft, problems, setEnabled, setValues, back }) {
  const entry = draft.components[c.name];
  const mine = problems[c.name] || {};
  const elsewhere = Object.entries(mine).filter(([field]) => field === '');
  return (
    <div class="component-page" data-component={c.name}>
      <button type="button" class="back" onClick={back}>
        ← All components
      </button>
      <header>
        <h2>{c.title || c.name}</h2>
        <Toggle component={c} enabled={entry.enabled} onChange={(on) => setEnabled(c.name, on)} />
      </header>
      <p class="description">{c.description}</p>
      <p class="meta">
        {c.name} {c.version} · {c.category}
        {c.default_enabled ? ' · on by default' : ' · off by default'}
        {c.from_stack ? ` · from stack ${c.from_stack}` : ''}
      </p>
      {elsewhere.length ? (
        <ul class="problems" role="alert">
          {elsewhere.flatMap(([, list]) => list.map((m) => <li>{m}</li>))}
        </ul>
      ) : null}
      <section class="options">
        <h3>Options</h3>
        {entry.enabled ? null : <p class="note">Off: these options apply once it is on.</p>}
        <SchemaForm
          component={c.name}
          schema={c.schema}
          value={entry.values}
          errors={mine}
          onChange={(values) => setValues(c.name, values)}
        />
      </section>
      <Facts title="Provides" facts={c.provides} />
      <Facts title="Reads" facts={c.reads} />
      {c.crd_groups?.length ? (
        <section>
          <h3>Installs the CRDs of</h3>
          <ul>
            {c.crd_groups.map((g) => (
              <li>
                <code>{g}</code>
              </li>
            ))}
          </ul>
        </section>
      ) : null}
      <section class="renders">
        <h3>What it renders</h3>
        {c.files?.length ? (
          <ul>
            {c.files.map((f) => (
              <li>
                <code>{f}</code>
              </li>
            ))}
          </ul>
        ) : (
          <p class="note">Nothing generated yet: Review shows what it would write.</p>
        )}
      </section>
      <section class="readme">
        <h3>Readme</h3>
        <div class="markdown" dangerouslySetInnerHTML={{ __html: c.readme_html }} />
      </section>
    </div>
  );
}

function Review({ review, back }) {
  if (!review) return <p>Reviewing…</p>;
  const { diff } = review;
  const lines = diff.patch ? diff.patch.split('\n') : [];
  return (
    <div class="review-page">
      <button type="button" class="back" onClick={back}>
        ← Back to editing
      </button>
      <h2>What `cairn generate` would change</h2>
      <p class="meta">
        stack {diff.stack} {diff.from && diff.from !== diff.to ? `${diff.from} → ${diff.to}` : diff.to}
      </p>
      {diff.warnings?.map((w) => (
        <p class="warning">{w}</p>
      ))}
      {lines.length ? (
        <pre class="diff" data-testid="diff">
          {lines.map((line) => (
            <span
              class={
                line.startsWith('+++') || line.startsWith('---')
                  ? 'file'
                  : line.startsWith('+')
                    ? 'add'
                    : line.startsWith('-')
                      ? 'del'
                      : line.startsWith('@@')
                        ? 'hunk'
                        : ''
              }
            >
              {line + '\n'}
            </span>
          ))}
        </pre>
      ) : (
        <p class="nothing" data-testid="diff">
          Nothing would change.
        </p>
      )}
    </div>
  );
}

function Catalogs({ back }) {
  const [catalogs, setCatalogs] = useState(null);
  const [error, setError] = useState(null);
  const [term, setTerm] = useState('');
  useEffect(() => {
    api('/api/catalogs').then(setCatalogs, (err) => setError(err.message));
  }, []);
  const t = term.trim().toLowerCase();
  const matches = (s) =>
    !t || [s.name, s.description, s.publisher, ...(s.categories || [])].join(' ').toLowerCase().includes(t);
  return (
    <div class="catalogs-page">
      <button type="button" class="back" onClick={back}>
        ← All components
      </button>
      <h2>Stacks in your catalogs</h2>
      <p class="meta">
        Follow a catalog with <code>cairn catalog add SOURCE</code>. To use a stack's components in this cluster, add
        its source under <code>stacks:</code> in cairn.yaml (or start a cluster from it with{' '}
        <code>cairn init NAME</code>).
      </p>
      <input
        type="search"
        aria-label="Search the catalogs"
        placeholder="Search by name, description, category or publisher"
        value={term}
        onInput={(e) => setTerm(e.currentTarget.value)}
      />
      {error ? <p class="notice error">{error}</p> : null}
      {catalogs === null && !error ? <p>Loading…</p> : null}
      {catalogs && !catalogs.length ? <p class="note">You follow no catalog yet.</p> : null}
      {(catalogs || []).map((catalog) => (
        <section class="catalog" data-catalog={catalog.name}>
          <h3>
            {catalog.name} <span class="meta">{catalog.version}</span>
          </h3>
          <p class="meta">
            {catalog.description} · {catalog.source}
          </p>
          <div class="tiles">
            {catalog.stacks.filter(matches).map((s) => (
              <article class="tile" data-stack={s.name}>
                <header>
                  <h3>{s.name}</h3>
                </header>
                <p>{s.description}</p>
                <footer>
                  <span class="version">
                    {(s.categories || []).join(', ')}
                    {s.publisher ? ` · ${s.publisher}` : ''}
                  </span>
                </footer>
                <code class="source">{s.source}</code>
              </article>
            ))}
          </div>
        </section>
      ))}
    </div>
  );
}

function App() {
  const [state, setState] = useState(null);
  const [draft, setDraft] = useState(null);
  const [check, setCheck] = useState(null);
  const [view, setView] = useState({ page: 'tiles' });
  const [review, setReview] = useState(null);
  const [notice, setNotice] = useState(null);
  const [busy, setBusy] = useState(false);
  const [closed, setClosed] = useState(false);
  const sequence = useRef(0);

  const load = async () => {
    const loaded = await api('/api/state');
    setState(loaded);
    setDraft(draftOf(loaded));
    setCheck(null);
  };
  useEffect(() => {
    load().catch((err) => setNotice({ kind: 'error', text: err.message }));
  }, []);

  // Check the draft on the server a moment after each change.
  useEffect(() => {
    if (!draft || !state) return undefined;
    const mine = ++sequence.current;
    const timer = setTimeout(async () => {
      try {
        const report = await api('/api/check', { draft });
        if (mine === sequence.current) setCheck(report);
      } catch (err) {
        if (mine === sequence.current) setNotice({ kind: 'error', text: err.message });
      }
    }, 250);
    return () => clearTimeout(timer);
  }, [draft]);

  if (closed) {
    return (
      <main class="closed">
        <h1>cairn configure</h1>
        <p data-testid="closed">{closed}</p>
      </main>
    );
  }
  if (!state || !draft) {
    return (
      <main>
        <h1>cairn configure</h1>
        {notice ? <p class={`notice ${notice.kind}`}>{notice.text}</p> : <p>Loading the stack…</p>}
      </main>
    );
  }

  const problems = problemsByComponent(check);
  const setEnabled = (name, enabled) =>
    setDraft({ components: { ...draft.components, [name]: { ...draft.components[name], enabled } } });
  const setValues = (name, values) =>
    setDraft({ components: { ...draft.components, [name]: { ...draft.components[name], values } } });
  const checking = check === null || busy;

  const doReview = async () => {
    setBusy(true);
    setNotice(null);
    try {
      const result = await api('/api/review', { draft });
      if (result.check) {
        setCheck(result.check);
        setNotice({ kind: 'error', text: 'Fix the problems shown first.' });
      } else {
        setReview(result);
        setView({ page: 'review' });
      }
    } catch (err) {
      setNotice({ kind: 'error', text: err.message });
    } finally {
      setBusy(false);
    }
  };
  const doSave = async (quit) => {
    setBusy(true);
    setNotice(null);
    try {
      const result = await api('/api/save', { draft, expected: state.text, quit });
      if (result.check && !result.saved) {
        setCheck(result.check);
        setNotice({ kind: 'error', text: 'Not saved: fix the problems shown first.' });
        return;
      }
      if (quit) {
        setClosed(`Saved ${result.saved}. cairn configure has stopped; close this tab and run \`cairn generate\`.`);
        return;
      }
      await load();
      setNotice({ kind: 'ok', text: `Saved ${result.saved}. Run \`cairn generate\` to write the manifests.` });
    } catch (err) {
      setNotice({ kind: 'error', text: err.message });
    } finally {
      setBusy(false);
    }
  };
  const doQuit = async () => {
    await api('/api/quit', {}).catch(() => {});
    setClosed('cairn configure has stopped without saving; close this tab.');
  };

  const general = check?.problems || [];
  const total = (check?.fields?.length || 0) + general.length;
  const current = view.page === 'component' && state.components.find((c) => c.name === view.name);

  return (
    <>
      <header class="top">
        <div>
          <h1>cairn configure</h1>
          <p class="meta">
            {state.config} · stack {state.stack.name} {state.stack.version}
          </p>
        </div>
        <nav>
          <span class="status" data-testid="status">
            {checking ? 'checking…' : total ? `${total} ${total === 1 ? 'problem' : 'problems'}` : 'valid'}
          </span>
          <button type="button" class="quiet" onClick={() => setView({ page: 'catalogs' })} disabled={busy}>
            Catalogs
          </button>
          <button type="button" onClick={doReview} disabled={busy}>
            Review
          </button>
          <button type="button" onClick={() => doSave(false)} disabled={busy}>
            Save
          </button>
          <button type="button" onClick={() => doSave(true)} disabled={busy}>
            Save and quit
          </button>
          <button type="button" class="quiet" onClick={doQuit} disabled={busy}>
            Quit
          </button>
        </nav>
      </header>
      <main>
        {notice ? (
          <p class={`notice ${notice.kind}`} role="status" data-testid="notice">
            {notice.text}
          </p>
        ) : null}
        {general.length ? (
          <ul class="problems" role="alert">
            {general.map((p) => (
              <li>{p}</li>
            ))}
          </ul>
        ) : null}
        {view.page === 'catalogs' ? (
          <Catalogs back={() => setView({ page: 'tiles' })} />
        ) : view.page === 'review' ? (
          <Review review={review} back={() => setView({ page: 'tiles' })} />
        ) : current ? (
          <ComponentPage
            component={current}
            draft={draft}
            problems={problems}
            setEnabled={setEnabled}
            setValues={setValues}
            back={() => setView({ page: 'tiles' })}
          />
        ) : (
          <Tiles
            state={state}
            draft={draft}
            problems={problems}
            setEnabled={setEnabled}
            open={(name) => setView({ page: 'component', name })}
          />
        )}
      </main>
    </>
  );
}

render(<App />, document.getElementById('app'));
