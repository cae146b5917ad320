// oauth2-proxy in front of Grafana: a cairn component in JavaScript.
//
// The exports follow wit/component.wit as jco maps it: functions and record
// fields in camelCase, variants as {tag, val}, enums as strings; returning a
// value is `ok`, throwing one is `err`.

import { log } from 'cairn:component/host@0.2.0';

const defaults = {
  provider: 'github',
  oidcIssuerUrl: null,
  emailDomains: ['*'],
  secretName: 'oauth2-proxy',
  namespace: 'auth',
  chartVersion: '10.7.0',
};

const schema = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  title: 'Config',
  type: 'object',
  additionalProperties: false,
  properties: {
    provider: { description: 'Identity provider.', enum: ['github', 'gitlab', 'google', 'oidc'], default: defaults.provider },
    oidcIssuerUrl: { description: 'Issuer URL, for the oidc provider.', type: ['string', 'null'], format: 'uri', default: null },
    emailDomains: { description: 'E-mail domains allowed to sign in.', type: 'array', items: { type: 'string' }, default: defaults.emailDomains },
    secretName: { description: 'Secret with client-id, client-secret and cookie-secret: an existing one, or the one rendered from clientSecret.', type: 'string', minLength: 1, default: defaults.secretName },
    clientId: { description: 'OAuth client ID; with clientSecret and cookieSecret, the Secret is rendered (encrypted by cairn).', type: 'string', minLength: 1 },
    clientSecret: { description: 'OAuth client secret (a secret: give it as a reference such as {env: NAME}).', type: 'string', writeOnly: true, minLength: 1 },
    cookieSecret: { description: 'Cookie encryption secret of 16, 24 or 32 bytes (a secret: give it as a reference).', type: 'string', writeOnly: true, minLength: 16, maxLength: 44 },
    namespace: { description: 'Namespace the proxy runs in.', type: 'string', default: defaults.namespace },
    chartVersion: { description: 'Version of the oauth2-proxy chart (https://oauth2-proxy.github.io/manifests; releases: https://github.com/oauth2-proxy/manifests/releases).', type: 'string', default: defaults.chartVersion },
  },
};

export function describe() {
  return {
    name: 'oauth2-proxy',
    version: '0.2.0',
    title: 'OAuth2 Proxy',
    description: 'Signs users in with your identity provider in front of Grafana.',
    category: 'security',
    readme: 'oauth2-proxy in front of Grafana. Its credentials come from an existing Secret, or from clientId, clientSecret and cookieSecret given as secret references, which cairn renders into a SOPS-encrypted Secret.',
    configSchema: JSON.stringify(schema),
    provides: [{ key: 'auth.grafana', description: 'an authenticating proxy serves Grafana\'s host', required: false, wait: false }],
    // Its route and listener are Gateway API kinds: it waits for the gateway.
    reads: [
      { key: 'grafana.url', description: 'Grafana to forward signed-in users to', required: true, wait: false },
      { key: 'gateway.name', description: 'the Gateway the proxy is exposed through', required: false, wait: true },
      { key: 'gateway.namespace', description: 'the Gateway\'s namespace', required: false, wait: true },
      { key: 'gateway.http-listener', description: 'the Gateway\'s plain HTTP listener', required: false, wait: false },
      { key: 'gateway.domain', description: 'domain Grafana is served under', required: false, wait: false },
      { key: 'certs.cluster-issuer', description: 'ClusterIssuer for the TLS certificate', required: false, wait: false },
    ],
    crdGroups: [],
  };
}

export function facts(_config) {
  return [{ key: 'auth.grafana', value: { tag: 'flag', val: true } }];
}

export function render(configJson, facts) {
  const config = JSON.parse(configJson);
  const fact = (key) => facts.find((f) => f.key === key)?.value?.val;
  if (config.provider === 'oidc' && !config.oidcIssuerUrl) {
    throw { tag: 'invalid-config', val: [{ severity: 'error', message: 'the oidc provider needs oidcIssuerUrl', field: 'oidcIssuerUrl', file: undefined }] };
  }
  const ns = config.namespace;
  const credentials = [config.clientId, config.clientSecret, config.cookieSecret];
  const secretFiles = [];
  if (credentials.some((c) => c !== undefined)) {
    const missing = ['clientId', 'clientSecret', 'cookieSecret'].filter((k) => config[k] === undefined);
    if (missing.length > 0) {
      throw { tag: 'invalid-config', val: missing.map((field) => ({ severity: 'error', message: 'clientId, clientSecret and cookieSecret go together: set all three, or none to use an existing Secret', field, file: undefined })) };
    }
    const secret = {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: config.secretName, namespace: ns },
      type: 'Opaque',
      stringData: { 'client-id': config.clientId, 'client-secret': config.clientSecret, 'cookie-secret': config.cookieSecret },
    };
    secretFiles.push({ path: 'secret.yaml', content: toYaml(secret), layer: 'main' });
  }
  const values = {
    config: { existingSecret: config.secretName },
    extraArgs: {
      provider: config.provider,
      upstream: fact('grafana.url'),
      'email-domain': config.emailDomains.join(','),
      'pass-user-headers': true,
      'reverse-proxy': true,
    },
  };
  if (config.oidcIssuerUrl) values.extraArgs['oidc-issuer-url'] = config.oidcIssuerUrl;
  const domain = fact('gateway.domain');
  const gateway = fact('gateway.name');
  const gatewayNamespace = fact('gateway.namespace');
  const diagnostics = [];
  const routeFiles = [];
  if (domain && gateway && gatewayNamespace) {
    const host = `grafana.${domain}`;
    const issuer = fact('certs.cluster-issuer');
    values.extraArgs['redirect-url'] = `${issuer ? 'https' : 'http'}://${host}/oauth2/callback`;
    routeFiles.push({ path: 'route.yaml', content: exposure({ name: 'oauth2-proxy', namespace: ns, host, gateway, gatewayNamespace, httpListener: fact('gateway.http-listener') || 'http', issuer, service: 'oauth2-proxy', port: 80 }).map(toYaml).join('---\n'), layer: 'main' });
    if (!issuer) {
      diagnostics.push({ severity: 'warning', message: 'no certs.cluster-issuer fact: the proxy is served over plain HTTP (enable cert-manager)', field: undefined, file: undefined });
    }
  } else {
    log('warn', 'no gateway facts: the proxy is not exposed');
    diagnostics.push({ severity: 'warning', message: 'no gateway facts with a domain: the proxy is not exposed (enable the gateway component and set its domain)', field: undefined, file: undefined });
  }
  const repository = {
    apiVersion: 'source.toolkit.fluxcd.io/v1',
    kind: 'HelmRepository',
    metadata: { name: 'oauth2-proxy', namespace: ns },
    spec: { interval: '1h', url: 'https://oauth2-proxy.github.io/manifests' },
  };
  const release = {
    apiVersion: 'helm.toolkit.fluxcd.io/v2',
    kind: 'HelmRelease',
    metadata: { name: 'oauth2-proxy', namespace: ns },
    spec: {
      interval: '30m',
      chart: { spec: { chart: 'oauth2-proxy', version: config.chartVersion, sourceRef: { kind: 'HelmRepository', name: 'oauth2-proxy', namespace: ns }, interval: '12h' } },
      install: { crds: 'CreateReplace', strategy: { name: 'RetryOnFailure', retryInterval: '5m' } },
      upgrade: { crds: 'CreateReplace', strategy: { name: 'RetryOnFailure', retryInterval: '5m' } },
      values,
    },
  };
  return {
    files: [
      { path: 'namespace.yaml', content: toYaml({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } }), layer: 'main' },
      { path: 'helmrepository.yaml', content: toYaml(repository), layer: 'main' },
      { path: 'helmrelease.yaml', content: toYaml(release), layer: 'main' },
      ...secretFiles,
      ...routeFiles,
    ],
    diagnostics,
  };
}

// The proxy on `host` through the shared Gateway: with an issuer, a
// ListenerSet with an HTTPS listener whose certificate cert-manager issues
// (answering HTTP-01 on the Gateway's own HTTP listener) and a route on it;
// without one, a route on the Gateway's plain HTTP listener.
function exposure({ name, namespace, host, gateway, gatewayNamespace, httpListener, issuer, service, port }) {
  const group = 'gateway.networking.k8s.io';
  const objects = [];
  let parent = { group, kind: 'Gateway', name: gateway, namespace: gatewayNamespace, sectionName: httpListener };
  if (issuer) {
    objects.push({
      apiVersion: `${group}/v1`,
      kind: 'ListenerSet',
      metadata: {
        name,
        namespace,
        annotations: { 'cert-manager.io/cluster-issuer': issuer, 'acme.cert-manager.io/http01-parentreffallback': 'true' },
      },
      spec: {
        parentRef: { group, kind: 'Gateway', name: gateway, namespace: gatewayNamespace },
        listeners: [{
          name: 'https',
          hostname: host,
          port: 443,
          protocol: 'HTTPS',
          tls: { mode: 'Terminate', certificateRefs: [{ group: '', kind: 'Secret', name: `${name}-tls` }] },
          allowedRoutes: { namespaces: { from: 'Same' } },
        }],
      },
    });
    parent = { group, kind: 'ListenerSet', name, sectionName: 'https' };
  }
  objects.push({
    apiVersion: `${group}/v1`,
    kind: 'HTTPRoute',
    metadata: { name, namespace },
    spec: { parentRefs: [parent], hostnames: [host], rules: [{ backendRefs: [{ name: service, port }] }] },
  });
  return objects;
}

// A small YAML writer for plain data: block mappings and sequences, strings
// double-quoted (JSON string syntax is valid YAML) unless plainly safe.
function toYaml(value) {
  return emit(value, 0).replace(/^\n/, '') + '\n';
}

function emit(value, indent) {
  const pad = ' '.repeat(indent);
  if (Array.isArray(value)) {
    if (value.length === 0) return ' []';
    return value.map((item) => `\n${pad}-${isScalar(item) ? emit(item, indent + 2) : emit(item, indent + 2).replace(/^\n\s*/, ' ')}`).join('');
  }
  if (value !== null && typeof value === 'object') {
    const keys = Object.keys(value).filter((k) => value[k] !== undefined);
    if (keys.length === 0) return ' {}';
    return keys.map((k) => `\n${pad}${scalar(k)}:${emit(value[k], indent + 2)}`).join('');
  }
  return ' ' + scalar(value);
}

function isScalar(value) {
  return value === null || typeof value !== 'object';
}

function scalar(value) {
  if (value === null) return 'null';
  if (typeof value === 'boolean' || typeof value === 'number') return String(value);
  const s = String(value);
  const plain = /^[A-Za-z_/.][A-Za-z0-9_./-]*$/.test(s) && !/^(true|false|null|yes|no|on|off|~)$/i.test(s);
  return plain ? s : JSON.stringify(s);
}
