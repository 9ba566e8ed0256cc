// losant_client.js URL APP TOKEN_ID READER ADMIN POSTER: calls the official
// Losant JS client (losant-rest, resolved from NODE_PATH) against the
// gateway and prints one JSON object: for each call, the result or the
// error's statusCode and type.
'use strict';
const api = require('losant-rest');
const [url, app, tok, reader, admin, poster] = process.argv.slice(2);

async function attempt(fn) {
  try {
    const r = await fn();
    return { ok: true, result: r };
  } catch (e) {
    return { ok: false, statusCode: e.statusCode, type: e.type, message: e.message };
  }
}

(async () => {
  const asReader = api.createClient({ accessToken: reader, url });
  const asAdmin = api.createClient({ accessToken: admin, url });
  const asPoster = api.createClient({ accessToken: poster, url });
  const out = {};
  out.getAllowed = await attempt(() => asReader.applicationApiToken.get({ applicationId: app, apiTokenId: tok }));
  out.listAllowed = await attempt(() => asReader.applicationApiTokens.get({ applicationId: app }));
  out.patchDenied = await attempt(() => asReader.applicationApiToken.patch({ applicationId: app, apiTokenId: tok, apiToken: { name: 'renamed' } }));
  out.patchAllowed = await attempt(() => asAdmin.applicationApiToken.patch({ applicationId: app, apiTokenId: tok, apiToken: { name: 'renamed' } }));
  out.patchInvalid = await attempt(() => asAdmin.applicationApiToken.patch({ applicationId: app, apiTokenId: tok, apiToken: { status: 'deleted' } }));
  out.postEscalation = await attempt(() => asPoster.applicationApiTokens.post({ applicationId: app, apiToken: { name: 'x', scope: ['all.Application'] } }));
  out.postAllowed = await attempt(() => asPoster.applicationApiTokens.post({ applicationId: app, apiToken: { name: 'x', scope: ['applicationApiTokens.post'] } }));
  out.deleteDenied = await attempt(() => asReader.applicationApiToken.delete({ applicationId: app, apiTokenId: tok }));
  out.deleteAllowed = await attempt(() => asAdmin.applicationApiToken.delete({ applicationId: app, apiTokenId: tok }));
  out.noToken = await attempt(() => api.createClient({ url }).applicationApiTokens.get({ applicationId: app }));
  console.log(JSON.stringify(out));
})();
