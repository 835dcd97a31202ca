// Test-only SMART on FHIR authorization server: npm oidc-provider, configured for the
// SMART App Launch 2.0 EHR launch that the timeline app performs (docs/timeline.md).
//
//   node server.mjs CONFIG.json
//
// CONFIG: {client_id, redirect_uri, fhir_base, practitioner, resource_scopes,
//          launches: {"<launch id>": "<patient id>" | ""}}
// Prints one line {"issuer": "http://127.0.0.1:<port>"} on stdout once it listens on a
// free loopback port. Never used outside the tests.
//
// What it does for SMART:
// - `launch` and `aud` are accepted as extra authorization parameters; an unknown launch
//   id, or an `aud` other than the FHIR base URL, ends the authorization with
//   access_denied;
// - PKCE is required (oidc-provider supports S256 only);
// - the EHR user is signed in without a form (the launch stands for the EHR session) and
//   the requested scopes are granted; each launch id is bound to its fixture patient;
// - access tokens are JWTs (RS256) for the FHIR server's audience (resource indicator
//   = fhir_base), carrying `patient`; the token response carries `patient` too (a launch
//   bound to "" gives a token without a patient, for the error test).
import { readFileSync } from 'node:fs';
import http from 'node:http';

import Provider, { errors } from 'oidc-provider';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const grantPatients = new Map();

const server = http.createServer();
await new Promise((resolve) => { server.listen(0, '127.0.0.1', resolve); });
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  clients: [{
    client_id: config.client_id,
    token_endpoint_auth_method: 'none',
    redirect_uris: [config.redirect_uri],
    grant_types: ['authorization_code'],
    response_types: ['code'],
  }],
  pkce: { required: () => true },
  extraParams: ['launch', 'aud'],
  scopes: ['openid', 'launch', 'fhirUser'],
  claims: { openid: ['sub'], fhirUser: ['fhirUser'] },
  async findAccount(ctx, id) {
    return {
      accountId: id,
      async claims() { return { sub: id, fhirUser: `${config.fhir_base}/Practitioner/${id}` }; },
    };
  },
  features: {
    devInteractions: { enabled: false },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => config.fhir_base,
      useGrantedResource: () => true,
      getResourceServerInfo(ctx, resource) {
        if (resource !== config.fhir_base) {
          throw new errors.InvalidTarget();
        }
        return {
          scope: config.resource_scopes,
          audience: config.fhir_base,
          accessTokenFormat: 'jwt',
          accessTokenTTL: 600,
          jwt: { sign: { alg: 'RS256' } },
        };
      },
    },
  },
  async extraTokenClaims(ctx, token) {
    const patient = grantPatients.get(token.grantId);
    return patient ? { patient } : undefined;
  },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  cookies: { keys: ['test-only-cookie-signing-key'] },
});
provider.proxy = false;

// `patient` beside the access token in the token response (SMART launch context).
provider.use(async (ctx, next) => {
  await next();
  if (ctx.path === '/token' && ctx.body && typeof ctx.body.access_token === 'string') {
    const payload = JSON.parse(
      Buffer.from(ctx.body.access_token.split('.')[1], 'base64url').toString('utf8'),
    );
    if (payload.patient) {
      ctx.body = { ...ctx.body, patient: payload.patient };
    }
  }
});

async function interaction(req, res) {
  const details = await provider.interactionDetails(req, res);
  const { prompt, params, session } = details;
  const patient = config.launches[params.launch];
  if (patient === undefined || params.aud !== config.fhir_base) {
    await provider.interactionFinished(req, res, {
      error: 'access_denied',
      error_description: 'unknown launch or wrong aud',
    }, { mergeWithLastSubmission: false });
    return;
  }
  if (prompt.name === 'login') {
    await provider.interactionFinished(req, res, {
      login: { accountId: config.practitioner },
    }, { mergeWithLastSubmission: false });
    return;
  }
  const grant = details.grantId
    ? await provider.Grant.find(details.grantId)
    : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
  const missing = prompt.details;
  if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
  if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
  if (missing.missingResourceScopes) {
    for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes)) {
      grant.addResourceScope(indicator, scopes.join(' '));
    }
  }
  const grantId = await grant.save();
  grantPatients.set(grantId, patient);
  await provider.interactionFinished(req, res, { consent: { grantId } }, {
    mergeWithLastSubmission: true,
  });
}

const callback = provider.callback();
server.on('request', (req, res) => {
  if (req.url.startsWith('/interaction/')) {
    interaction(req, res).catch((err) => {
      res.statusCode = 500;
      res.end(`interaction failed: ${err.name}`);
    });
    return;
  }
  callback(req, res);
});

process.stdout.write(`${JSON.stringify({ issuer })}\n`);
const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
