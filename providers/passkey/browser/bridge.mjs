// The browser side of tests/browser.rs: serves a page on 127.0.0.1, opens it
// as http://localhost:<port> in headless Chromium with a virtual authenticator
// that has PRF (DevTools WebAuthn domain), and runs WebAuthn ceremonies the
// Rust test asks for, one JSON line per request on stdin, one JSON line per
// answer on stdout. Inputs and outputs are base64url, as in WebAuthn's JSON.
//
//   {"op":"create","options":<PublicKeyCredentialCreationOptionsJSON>}
//       -> {"id":<rawId>,"prfEnabled":<bool>}
//   {"op":"get","options":<PublicKeyCredentialRequestOptionsJSON>}
//       -> {"credentialId":<rawId>,"output":<prf.results.first>} | {"error":<name>}
//   {"op":"quit"}

import http from 'node:http';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { chromium } from 'playwright-core';

const PAGE = `<!doctype html><meta charset="utf-8"><title>share-backup passkey test</title>
<script>
const dec = s => { s = s.replace(/-/g, '+').replace(/_/g, '/'); while (s.length % 4) s += '=';
  return Uint8Array.from(atob(s), c => c.charCodeAt(0)).buffer; };
const enc = b => btoa(String.fromCharCode(...new Uint8Array(b))).replace(/\\+/g, '-').replace(/\\//g, '_').replace(/=+$/, '');
async function create(o) {
  const publicKey = { ...o, challenge: dec(o.challenge), user: { ...o.user, id: dec(o.user.id) },
    excludeCredentials: (o.excludeCredentials || []).map(c => ({ ...c, id: dec(c.id) })) };
  const cred = await navigator.credentials.create({ publicKey });
  const prf = cred.getClientExtensionResults().prf;
  return { id: enc(cred.rawId), prfEnabled: !!(prf && prf.enabled) };
}
async function get(o) {
  const evalByCredential = {};
  for (const [id, v] of Object.entries(o.extensions.prf.evalByCredential)) evalByCredential[id] = { first: dec(v.first) };
  const publicKey = { ...o, challenge: dec(o.challenge),
    allowCredentials: o.allowCredentials.map(c => ({ ...c, id: dec(c.id) })),
    extensions: { prf: { evalByCredential } } };
  try {
    const cred = await navigator.credentials.get({ publicKey });
    const r = cred.getClientExtensionResults().prf;
    if (!r || !r.results) return { error: 'NoPrf' };
    return { credentialId: enc(cred.rawId), output: enc(r.results.first) };
  } catch (e) { return { error: e.name }; }
}
</script>`;

const server = http.createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'text/html' });
  res.end(PAGE);
});
await new Promise(r => server.listen(0, '127.0.0.1', r));
const port = server.address().port;

const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-passkey-chromium-'));
const context = await chromium.launchPersistentContext(userDataDir, {
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const page = context.pages()[0] || await context.newPage();
await page.goto(`http://localhost:${port}/`);
const cdp = await context.newCDPSession(page);
await cdp.send('WebAuthn.enable');
await cdp.send('WebAuthn.addVirtualAuthenticator', {
  options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true,
    isUserVerified: true, hasPrf: true, automaticPresenceSimulation: true },
});
process.stderr.write(`bridge: chromium ${context.browser()?.version() ?? ''} on http://localhost:${port}\n`);

const rl = readline.createInterface({ input: process.stdin });
for await (const line of rl) {
  if (!line.trim()) continue;
  const msg = JSON.parse(line);
  if (process.env.BRIDGE_DEBUG) process.stderr.write(`bridge: ${msg.op}\n`);
  if (msg.op === 'quit') break;
  let answer;
  try {
    answer = await page.evaluate(([op, o]) => (op === 'create' ? create(o) : get(o)), [msg.op, msg.options]);
  } catch (e) {
    answer = { error: String(e && e.message || e).slice(0, 200) };
  }
  process.stdout.write(JSON.stringify(answer) + '\n');
}
rl.close();
await context.close();
server.closeAllConnections();
server.close();
fs.rmSync(userDataDir, { recursive: true, force: true });
process.exit(0);
