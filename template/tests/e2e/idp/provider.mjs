// A real OpenID provider for the end-to-end tests: the `oidc-provider` package,
// configured from a JSON file, with login and consent driven over plain HTTP.
//
//   node provider.mjs --port 0 --host 127.0.0.1 --issuer-host localhost --config config.json
//
// Listens on --host, names itself http://<issuer-host>:<port> (tests use
// `localhost` so the IdP and an app on 127.0.0.1 are different sites, as in
// production), and prints one JSON line {"issuer", "kids"} once it listens.
// Login and consent are this script's own interaction endpoints:
//   GET  /interaction/:uid          JSON {"uid", "prompt"}, or an HTML form for browsers
//   POST /interaction/:uid/login    form login=<account id>  (amr/acr come from the account: give
//                                   MFA accounts e.g. "amr": ["pwd", "otp"] or ["mfa"], as the app's rule demands)
//   POST /interaction/:uid/confirm  grants the requested scopes and claims
// Test-only endpoints (never part of a real IdP):
//   POST /__test/rotate             new signing keys (new kids) go first; old keys stay published
//   GET  /__test/requests           the authorization requests seen (PKCE and scope assertions)
//
// config.json: {"clients": [{client_id, client_secret, redirect_uris, ...}],
//               "accounts": {"<id>": {"claims": {...}, "amr": [...], "acr": "..."}}}
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { parseArgs } from 'node:util';

import Provider from 'oidc-provider';

const { values: args } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    host: { type: 'string', default: '127.0.0.1' },
    'issuer-host': { type: 'string' },
    config: { type: 'string' },
  },
});
if (!args.config) {
  console.error('usage: node provider.mjs --port N --host H [--issuer-host NAME] --config config.json');
  process.exit(2);
}
const config = JSON.parse(readFileSync(args.config, 'utf8'));
const accounts = config.accounts ?? {};

let generation = 0;
function signingKeys() {
  generation += 1;
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' });
  const stamp = randomBytes(4).toString('hex');
  return [
    { ...rsa, kid: `rsa-${generation}-${stamp}`, use: 'sig', alg: 'RS256' },
    { ...ec, kid: `ec-${generation}-${stamp}`, use: 'sig', alg: 'ES256' },
  ];
}

const customClaims = [...new Set(Object.values(accounts).flatMap((a) => Object.keys(a.claims ?? {})))]
  .filter((name) => !['sub', 'email', 'email_verified', 'name'].includes(name));
// Every acr an account uses is advertised (acr_values_supported), as a real IdP documents its own.
const acrValues = [...new Set(Object.values(accounts).map((a) => a.acr).filter(Boolean))];
const cookieKeys = [randomBytes(32).toString('hex')];
const seenAuthorizationRequests = [];

function readForm(req) {
  return new Promise((resolve, reject) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk) => { body += chunk; });
    req.on('end', () => resolve(Object.fromEntries(new URLSearchParams(body))));
    req.on('error', reject);
  });
}

function buildProvider(issuer, jwks) {
  const provider = new Provider(issuer, {
    clients: config.clients.map((client) => ({
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      ...client,
    })),
    jwks: { keys: jwks },
    cookies: { keys: cookieKeys },
    acrValues,
    pkce: { required: () => true },
    conformIdTokenClaims: false,
    claims: {
      openid: ['sub', 'acr', 'amr', 'auth_time', 'sid', ...customClaims],
      email: ['email', 'email_verified'],
      profile: ['name'],
    },
    features: { devInteractions: { enabled: false } },
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    ttl: { IdToken: config.id_token_ttl ?? 300, AccessToken: 300, AuthorizationCode: 60 },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    findAccount: async (_ctx, id) => {
      const account = accounts[id];
      if (!account) return undefined;
      return { accountId: id, claims: async () => ({ sub: id, ...account.claims }) };
    },
  });

  provider.use(async (ctx, next) => {
    if (ctx.method === 'GET' && ctx.path === provider.pathFor('authorization')) {
      seenAuthorizationRequests.push(Object.fromEntries(new URLSearchParams(ctx.querystring)));
    }
    const match = ctx.path.match(/^\/interaction\/([\w-]+)(?:\/(login|confirm))?$/);
    if (!match) return next();
    const details = await provider.interactionDetails(ctx.req, ctx.res);
    const [, , action] = match;
    if (ctx.method === 'GET' && !action) {
      const prompt = details.prompt.name;
      if (ctx.accepts('json', 'html') === 'html') {
        const next = prompt === 'login' ? 'login' : 'confirm';
        ctx.type = 'html';
        ctx.body = `<!doctype html><html><head><title>${prompt}</title></head><body>
<form method="post" action="/interaction/${details.uid}/${next}">
<input name="login" value="${Object.keys(accounts)[0] ?? ''}"><button id="submit" type="submit">${next}</button>
</form></body></html>`;
        return undefined;
      }
      ctx.body = { uid: details.uid, prompt, client_id: details.params.client_id };
      return undefined;
    }
    if (ctx.method !== 'POST' || !action) return next();
    let result;
    if (action === 'login') {
      const form = await readForm(ctx.req);
      const account = accounts[form.login];
      if (!account) {
        ctx.status = 400;
        ctx.body = { error: 'unknown_account' };
        return undefined;
      }
      result = { login: { accountId: form.login, amr: account.amr ?? ['pwd'], acr: account.acr } };
    } else {
      const { prompt: { details: missing }, params, session } = details;
      const grant = details.grantId
        ? await provider.Grant.find(details.grantId)
        : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
      if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
      if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
      result = { consent: { grantId: await grant.save() } };
    }
    const returnTo = await provider.interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission: true });
    ctx.status = 303;
    ctx.redirect(returnTo);
    return undefined;
  });
  return provider;
}

let keys = signingKeys();
let current;
const server = http.createServer(async (req, res) => {
  if (req.method === 'POST' && req.url === '/__test/rotate') {
    keys = [...signingKeys(), ...keys];
    current = buildProvider(current.issuer, keys);
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ kids: keys.map((key) => key.kid) }));
    return;
  }
  if (req.method === 'GET' && req.url === '/__test/requests') {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(seenAuthorizationRequests));
    return;
  }
  current.callback()(req, res);
});
server.listen(Number(args.port), args.host, () => {
  const { port } = server.address();
  const issuer = `http://${args['issuer-host'] ?? args.host}:${port}`;
  current = buildProvider(issuer, keys);
  process.stdout.write(`${JSON.stringify({ issuer, kids: keys.map((key) => key.kid) })}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
