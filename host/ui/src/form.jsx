// A form for a component's values, made from its JSON Schema.
//
// It covers what component schemas use: objects (nested), strings,
// numbers, integers, booleans, enums, nullable types, lists, maps and
// local $refs. Anything else is edited as JSON. Validation is cairn's own,
// on the server: the messages shown at a field are those `cairn generate`
// gives. Fields the schema marks secret take only a reference (env, file,
// sops), never a value.

const SECRET_KINDS = [
  ['env', 'environment variable'],
  ['file', 'file outside the repository'],
  ['sops', 'value in a SOPS file'],
];

// The schema at `schema`, with a local $ref merged in (the keywords beside
// it win) and a single allOf flattened.
export function resolve(root, schema, depth = 0) {
  if (!schema || typeof schema !== 'object' || depth > 32) return schema || {};
  let out = schema;
  if (typeof schema.$ref === 'string' && schema.$ref.startsWith('#/')) {
    const target = schema.$ref
      .slice(2)
      .split('/')
      .reduce((at, key) => (at ? at[key.replace(/~1/g, '/').replace(/~0/g, '~')] : undefined), root);
    const { $ref, ...rest } = schema;
    out = { ...resolve(root, target, depth + 1), ...rest };
  }
  if (Array.isArray(out.allOf) && out.allOf.length === 1) {
    const { allOf, ...rest } = out;
    out = { ...resolve(root, allOf[0], depth + 1), ...rest };
  }
  // Option<T> as `anyOf: [T, {type: null}]`.
  if (Array.isArray(out.anyOf) && out.anyOf.length === 2) {
    const other = out.anyOf.filter((s) => !(s && s.type === 'null'));
    if (other.length === 1) {
      const { anyOf, ...rest } = out;
      out = { ...resolve(root, other[0], depth + 1), ...rest, nullable: true };
    }
  }
  return out;
}

// The type a field is edited as, and whether it may be null.
function kind(schema) {
  let types = Array.isArray(schema.type) ? schema.type : schema.type ? [schema.type] : [];
  const nullable = schema.nullable || types.includes('null');
  types = types.filter((t) => t !== 'null');
  if (schema.writeOnly || schema.format === 'password') return { kind: 'secret', nullable };
  if (Array.isArray(schema.enum)) return { kind: 'enum', nullable };
  if (types.length === 1) {
    const t = types[0];
    if (t === 'object') {
      if (schema.properties) return { kind: 'object', nullable };
      if (schema.additionalProperties && typeof schema.additionalProperties === 'object')
        return { kind: 'map', nullable };
    }
    if (t === 'array' && schema.items && typeof schema.items === 'object') return { kind: 'array', nullable };
    if (['string', 'integer', 'number', 'boolean'].includes(t)) return { kind: t, nullable };
  }
  if (!types.length && schema.properties) return { kind: 'object', nullable };
  return { kind: 'json', nullable };
}

const child = (path, key) => (path ? `${path}.${key}` : key);
const item = (path, i) => `${path}[${i}]`;
const fieldId = (component, path) => `field-${component}-${path}`.replace(/[^A-Za-z0-9_-]/g, '_');

function Problems({ errors, path }) {
  const list = errors[path] || [];
  if (!list.length) return null;
  return (
    <ul class="problems" role="alert" data-problems={path}>
      {list.map((m) => (
        <li>{m}</li>
      ))}
    </ul>
  );
}

function Help({ schema }) {
  return schema.description ? <p class="help">{schema.description}</p> : null;
}

// One field: its label, input, description and problems.
function Field({ ctx, name, path, schema, value, onChange, required }) {
  const s = resolve(ctx.root, schema);
  const { kind: k, nullable } = kind(s);
  const id = fieldId(ctx.component, path);
  const label = (
    <label for={id} class="label">
      {name}
      {required ? <span class="required" title="required"> *</span> : null}
    </label>
  );
  const invalid = (ctx.errors[path] || []).length > 0;
  const common = { id, name: path, 'aria-invalid': invalid ? 'true' : 'false' };
  let input;
  switch (k) {
    case 'object':
      return (
        <fieldset class="object" data-field={path}>
          <legend>{name}</legend>
          <Help schema={s} />
          <Problems errors={ctx.errors} path={path} />
          <ObjectFields ctx={ctx} path={path} schema={s} value={value} onChange={onChange} />
        </fieldset>
      );
    case 'array':
      return (
        <fieldset class="array" data-field={path}>
          <legend>{name}</legend>
          <Help schema={s} />
          <Problems errors={ctx.errors} path={path} />
          <ArrayItems ctx={ctx} path={path} schema={s} value={value} onChange={onChange} />
        </fieldset>
      );
    case 'map':
      return (
        <fieldset class="map" data-field={path}>
          <legend>{name}</legend>
          <Help schema={s} />
          <Problems errors={ctx.errors} path={path} />
          <MapEntries ctx={ctx} path={path} schema={s} value={value} onChange={onChange} />
        </fieldset>
      );
    case 'secret':
      input = <SecretRef {...common} value={value} onChange={onChange} />;
      break;
    case 'boolean':
      input = (
        <input {...common} type="checkbox" checked={value === true} onChange={(e) => onChange(e.currentTarget.checked)} />
      );
      break;
    case 'enum':
      input = (
        <select
          {...common}
          value={value == null ? '' : JSON.stringify(value)}
          onChange={(e) => onChange(e.currentTarget.value === '' ? null : JSON.parse(e.currentTarget.value))}
        >
          {nullable || value == null ? <option value="">(none)</option> : null}
          {s.enum.map((v) => (
            <option value={JSON.stringify(v)}>{String(v)}</option>
          ))}
        </select>
      );
      break;
    case 'integer':
    case 'number':
      input = (
        <input
          {...common}
          type="number"
          step={k === 'integer' ? 1 : 'any'}
          value={value == null ? '' : String(value)}
          onInput={(e) => {
            const text = e.currentTarget.value;
            onChange(text === '' ? (nullable ? null : undefined) : Number(text));
          }}
        />
      );
      break;
    case 'string':
      input = (
        <input
          {...common}
          type="text"
          placeholder={s.examples && s.examples.length ? String(s.examples[0]) : ''}
          value={value == null ? '' : String(value)}
          onInput={(e) => {
            const text = e.currentTarget.value;
            onChange(text === '' && nullable ? null : text);
          }}
        />
      );
      break;
    default:
      input = <JsonInput {...common} value={value} onChange={onChange} />;
  }
  return (
    <div class={`field ${k}${invalid ? ' invalid' : ''}`} data-field={path}>
      {label}
      {input}
      <Help schema={s} />
      <Problems errors={ctx.errors} path={path} />
    </div>
  );
}

function ObjectFields({ ctx, path, schema, value, onChange }) {
  const object = value && typeof value === 'object' && !Array.isArray(value) ? value : {};
  const required = new Set(schema.required || []);
  return (
    <div class="fields">
      {Object.entries(schema.properties || {}).map(([key, sub]) => (
        <Field
          ctx={ctx}
          name={key}
          path={child(path, key)}
          schema={sub}
          value={object[key]}
          required={required.has(key)}
          onChange={(v) => {
            const next = { ...object };
            if (v === undefined) delete next[key];
            else next[key] = v;
            onChange(next);
          }}
        />
      ))}
    </div>
  );
}

function blank(ctx, schema) {
  const s = resolve(ctx.root, schema);
  if (s.default !== undefined) return s.default;
  switch (kind(s).kind) {
    case 'object':
    case 'map':
      return {};
    case 'array':
      return [];
    case 'boolean':
      return false;
    case 'integer':
    case 'number':
      return 0;
    case 'secret':
      return { env: '' };
    default:
      return '';
  }
}

function ArrayItems({ ctx, path, schema, value, onChange }) {
  const list = Array.isArray(value) ? value : [];
  const set = (i, v) => onChange(list.map((x, j) => (j === i ? v : x)));
  return (
    <div class="items">
      {list.map((x, i) => (
        <div class="item">
          <Field ctx={ctx} name={`${i + 1}`} path={item(path, i)} schema={schema.items} value={x} onChange={(v) => set(i, v)} />
          <button type="button" class="remove" onClick={() => onChange(list.filter((_, j) => j !== i))}>
            Remove
          </button>
        </div>
      ))}
      <button type="button" class="add" onClick={() => onChange([...list, blank(ctx, schema.items)])}>
        Add
      </button>
    </div>
  );
}

function MapEntries({ ctx, path, schema, value, onChange }) {
  const object = value && typeof value === 'object' && !Array.isArray(value) ? value : {};
  const entries = Object.entries(object);
  const rename = (from, to) => {
    if (!to || to === from || to in object) return;
    const next = {};
    for (const [k, v] of entries) next[k === from ? to : k] = v;
    onChange(next);
  };
  return (
    <div class="entries">
      {entries.map(([key, v]) => (
        <div class="entry">
          <input
            class="key"
            aria-label={`name of ${child(path, key)}`}
            value={key}
            onChange={(e) => rename(key, e.currentTarget.value.trim())}
          />
          <Field
            ctx={ctx}
            name={key}
            path={child(path, key)}
            schema={schema.additionalProperties}
            value={v}
            onChange={(nv) => onChange({ ...object, [key]: nv })}
          />
          <button
            type="button"
            class="remove"
            onClick={() => {
              const next = { ...object };
              delete next[key];
              onChange(next);
            }}
          >
            Remove
          </button>
        </div>
      ))}
      <button
        type="button"
        class="add"
        onClick={() => {
          let n = entries.length + 1;
          while (`name${n}` in object) n += 1;
          onChange({ ...object, [`name${n}`]: blank(ctx, schema.additionalProperties) });
        }}
      >
        Add
      </button>
    </div>
  );
}

// A reference to a secret: where cairn reads it at generate time.
function SecretRef({ id, name, value, onChange, ...rest }) {
  const ref = value && typeof value === 'object' ? value : {};
  const current = SECRET_KINDS.find(([k]) => k in ref)?.[0] || '';
  const set = (k, v, key) => {
    if (!k) return onChange(null);
    const next = { [k]: v };
    if (k === 'sops') next.key = key ?? ref.key ?? '';
    onChange(next);
  };
  return (
    <div class="secret" {...rest}>
      <select aria-label={`${name}: where the secret is`} value={current} onChange={(e) => set(e.currentTarget.value, '')}>
        <option value="">(not set)</option>
        {SECRET_KINDS.map(([k, text]) => (
          <option value={k}>{text}</option>
        ))}
      </select>
      {current ? (
        <input
          id={id}
          name={name}
          type="text"
          autocomplete="off"
          placeholder={current === 'env' ? 'NAME' : 'path'}
          value={ref[current] || ''}
          onInput={(e) => set(current, e.currentTarget.value)}
        />
      ) : null}
      {current === 'sops' ? (
        <input
          aria-label={`${name}: key in the SOPS file`}
          type="text"
          placeholder="a.b"
          value={ref.key || ''}
          onInput={(e) => set('sops', ref.sops || '', e.currentTarget.value)}
        />
      ) : null}
      <p class="help">A secret: given as a reference, resolved when cairn generates; its value is never stored here.</p>
    </div>
  );
}

function JsonInput({ value, onChange, ...rest }) {
  const text = value === undefined ? '' : JSON.stringify(value, null, 2);
  return (
    <textarea
      {...rest}
      value={text}
      rows={Math.min(12, text.split('\n').length + 1)}
      onChange={(e) => {
        try {
          onChange(e.currentTarget.value.trim() === '' ? undefined : JSON.parse(e.currentTarget.value));
          e.currentTarget.setCustomValidity('');
        } catch (err) {
          e.currentTarget.setCustomValidity('not valid JSON');
          e.currentTarget.reportValidity();
        }
      }}
    />
  );
}

// The whole form of one component.
export function SchemaForm({ component, schema, value, errors, onChange }) {
  const ctx = { root: schema, component, errors };
  const s = resolve(schema, schema);
  if (kind(s).kind !== 'object') {
    return <Field ctx={ctx} name="values" path="" schema={s} value={value} onChange={onChange} />;
  }
  return (
    <form class="schema-form" onSubmit={(e) => e.preventDefault()} data-component={component}>
      <Problems errors={errors} path="" />
      <ObjectFields ctx={ctx} path="" schema={s} value={value} onChange={onChange} />
    </form>
  );
}
