// idp_provider.js: a real OpenID provider for idp_oidc.sh: oidc-provider
// (npm, the certified implementation) behind node's https server with a
// test CA's certificate. Clients get JWT access tokens for the resource
// server https://api.example through the client_credentials grant.
//
// In front of /jwks the wrapper behaves like the CDN real providers sit
// behind: a strong ETag, 304 for a matching If-None-Match, and
// Cache-Control max-age. A control listener on loopback http lets the test
// rotate the signing keys (a new Provider over the listed keys, the first
// one signing), change max-age, slow /jwks down or make it answer a given
// (hostile) body;
// it also counts /jwks fetches.
//
// Opaque access tokens for idp_introspect.sh: the resource
// https://opaque.example gets tokens in oidc-provider's opaque format, read
// through its introspection endpoint (/token/introspection, client "gw"
// with client_secret_basic) and revoked through its revocation endpoint.
// The control listener can slow introspection answers down (/slow-introspect)
// and counts them (introspections).
//
// usage: node idp_provider.js PORT CONTROL_PORT CERT KEY MAX_AGE
'use strict';
const fs = require('fs');
const http = require('http');
const https = require('https');
const path = require('path');
const crypto = require('crypto');
const { pathToFileURL } = require('url');

const [port, controlPort, certFile, keyFile, firstMaxAge] = process.argv.slice(2);
let maxAge = firstMaxAge;
const issuer = `https://127.0.0.1:${port}`;
const resource = 'https://api.example';
const keys = {};		// name -> private JWK (generated on first use)
let current = null;		// the provider's Koa callback
let slowMs = 0;
let override = null;		// a body /jwks answers instead of the provider's
let jwksFetches = 0;
let conditional = 0;
let introspectSlowMs = 0;
let introspections = 0;

function key(name) {
  if (!keys[name]) {
    const { privateKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
    keys[name] = { ...privateKey.export({ format: 'jwk' }), kid: name, alg: 'ES256', use: 'sig' };
  }
  return keys[name];
}

async function build(names) {
  const base = path.join(process.env.NODE_PATH, 'oidc-provider', 'lib', 'index.js');
  const { default: Provider } = await import(pathToFileURL(base).href);
  const provider = new Provider(issuer, {
    clients: [{
      client_id: 'svc', client_secret: 'svc-secret-0123456789', grant_types: ['client_credentials'],
      redirect_uris: [], response_types: [], token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: 'ES256',
    }, {
      client_id: 'gw', client_secret: 'gw-secret-0123456789', grant_types: [],
      redirect_uris: [], response_types: [], token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: 'ES256',
    }],
    jwks: { keys: names.map(key) },
    // Opaque tokens carry a subject and their own id claim ("tid"): their
    // jti is the token itself, which introspection leaves out.
    extraTokenClaims: (ctx, token) => (token.resourceServer?.audience === 'https://opaque.example'
      ? { sub: 'svc-user', tid: crypto.randomUUID() } : undefined),
    scopes: ['applicationApiToken.get', 'applicationApiTokens.get', 'application.mqttPublishMessage',
      'application.import'],
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      // Only the gateway (the resource server's client) reads tokens.
      introspection: { enabled: true, allowedPolicy: (ctx, client) => client.clientId === 'gw' },
      revocation: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => resource,
        useGrantedResource: () => true,
        getResourceServerInfo: (ctx, indicator) => (indicator === 'https://opaque.example' ? {
          scope: 'applicationApiToken.get applicationApiTokens.get application.mqttPublishMessage '
            + 'application.import',
          audience: indicator,
          accessTokenTTL: 600,
          accessTokenFormat: 'opaque',
        } : {
          scope: 'applicationApiToken.get applicationApiTokens.get',
          audience: resource,
          accessTokenTTL: 600,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'ES256' } },
        }),
      },
    },
  });
  provider.on('server_error', (ctx, err) => console.error('server_error', err));
  current = provider.callback();
}

function jwks(req, res) {
  jwksFetches++;
  // Ask the provider itself, then add what a CDN in front adds.
  const chunks = [];
  const fake = new http.ServerResponse(req);
  const body = [];
  fake.write = (c) => { body.push(Buffer.from(c)); return true; };
  fake.end = (c) => {
    if (c) body.push(Buffer.from(c));
    const text = override !== null ? Buffer.from(override) : Buffer.concat(body);
    const etag = '"' + crypto.createHash('sha256').update(text).digest('hex').slice(0, 16) + '"';
    if (req.headers['if-none-match']) conditional++;
    const send = () => {
      if (req.headers['if-none-match'] === etag) {
        res.writeHead(304, { etag, 'cache-control': `max-age=${maxAge}` });
        res.end();
      } else {
        res.writeHead(fake.statusCode, { 'content-type': 'application/json', etag,
          'cache-control': `max-age=${maxAge}` });
        res.end(text);
      }
    };
    if (slowMs > 0) setTimeout(send, slowMs); else send();
  };
  current(req, fake);
  void chunks;
}

const server = https.createServer({ cert: fs.readFileSync(certFile), key: fs.readFileSync(keyFile) },
  (req, res) => {
    console.log(`REQ ${req.method} ${req.url}`);
    if (req.url === '/jwks' && req.method === 'GET') jwks(req, res);
    else if (req.url === '/token/introspection') {
      introspections++;
      if (introspectSlowMs > 0) setTimeout(() => current(req, res), introspectSlowMs);
      else current(req, res);
    } else current(req, res);
  });

const control = http.createServer((req, res) => {
  let data = '';
  req.on('data', (c) => { data += c; });
  req.on('end', async () => {
    try {
      if (req.url === '/keys') await build(JSON.parse(data));
      else if (req.url === '/slow') slowMs = Number(data);
      else if (req.url === '/maxage') maxAge = Number(data);
      else if (req.url === '/jwks-body') override = data.length ? data : null;
      else if (req.url === '/slow-introspect') introspectSlowMs = Number(data);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ jwksFetches, conditional, slowMs, introspections }));
    } catch (e) {
      res.writeHead(500);
      res.end(String(e));
    }
  });
});

build(['k1']).then(() => {
  server.listen(Number(port), '127.0.0.1');
  control.listen(Number(controlPort), '127.0.0.1');
});
