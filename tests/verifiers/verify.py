"""A real verifier of Gantry access tokens: PyJWT's PyJWKClient against the published key set, unmodified.

Usage: verify.py JWKS_URL ISSUER AUDIENCE MAX_AGE_SECS
Reads one access token per line on stdin and answers one JSON line per token on stdout:
{"ok": true, "sub": ..., "kid": ...} or {"ok": false, "error": ...}. The key set is cached for MAX_AGE_SECS
(the server's Cache-Control max-age); an unknown `kid` makes PyJWKClient fetch the set again once.
"""

import json
import sys

import jwt

url, issuer, audience, max_age = sys.argv[1:5]
client = jwt.PyJWKClient(url, cache_jwk_set=True, lifespan=int(max_age))

for line in sys.stdin:
    token = line.strip()
    if not token:
        continue
    try:
        key = client.get_signing_key_from_jwt(token)
        claims = jwt.decode(
            token,
            key,
            algorithms=["EdDSA", "ES256"],
            issuer=issuer,
            audience=audience,
            options={"require": ["exp", "iat", "sub", "iss", "aud"]},
        )
        print(json.dumps({"ok": True, "sub": claims["sub"], "kid": key.key_id}), flush=True)
    except Exception as e:  # every refusal is an answer, not a crash
        print(json.dumps({"ok": False, "error": f"{type(e).__name__}: {e}"}), flush=True)
