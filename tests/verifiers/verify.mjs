// A real verifier of Gantry access tokens: node's jose (createRemoteJWKSet + jwtVerify) against the published
// key set, unmodified.
//
// Usage: node verify.mjs JWKS_URL ISSUER AUDIENCE MAX_AGE_SECS
// Reads one access token per line on stdin and answers one JSON line per token on stdout:
// {"ok": true, "sub": ..., "kid": ...} or {"ok": false, "error": ...}. The key set is cached for MAX_AGE_SECS
// (the server's Cache-Control max-age); an unknown `kid` refetches it, at most once per 30 s cooldown (jose's
// defaults).
import { createInterface } from 'node:readline';
import { createRemoteJWKSet, jwtVerify } from 'jose';

const [url, issuer, audience, maxAge] = process.argv.slice(2);
const jwks = createRemoteJWKSet(new URL(url), { cacheMaxAge: Number(maxAge) * 1000 });

const lines = createInterface({ input: process.stdin });
for await (const line of lines) {
  const token = line.trim();
  if (!token) continue;
  try {
    const { payload, protectedHeader } = await jwtVerify(token, jwks, {
      issuer,
      audience,
      typ: 'at+jwt',
      algorithms: ['EdDSA', 'ES256'],
      requiredClaims: ['exp', 'iat', 'sub'],
    });
    process.stdout.write(JSON.stringify({ ok: true, sub: payload.sub, kid: protectedHeader.kid }) + '\n');
  } catch (e) {
    process.stdout.write(JSON.stringify({ ok: false, error: `${e.code ?? e.name}: ${e.message}` }) + '\n');
  }
}
