#!/usr/bin/env python3
"""Interop token generator: PyJWT signs, countersign-core verifies (core/tests/interop.rs).

Prints one JSON object per line, a case:
  {lib, name, alg, app_id, key_kid, secret, kid, now, token, expect, user_id, claims}
where `expect` is "verified" or the reason code countersign-core must answer, `key_kid` and
`secret` describe the workspace's one primary key, `kid` is the kid the token's header carries
(null for none) and `now` the unix time the claims were made against. Tokens are made fresh on
every run, with fresh random secrets; tampered variants are derived here from library output.

Needs PyJWT (scripts/provision.sh installs it into .local/venv); exits 3 without it.
"""

import base64
import json
import secrets
import sys
import time

try:
    import jwt
except ImportError:
    print(
        "gen_pyjwt.py: PyJWT is not installed for " + sys.executable + ". Run scripts/test "
        "(or source scripts/provision.sh && install_interop_tools) to create .local/venv.",
        file=sys.stderr,
    )
    sys.exit(3)

LIB = "pyjwt " + jwt.__version__
APP_ID = "app_interop"
NOW = int(time.time())
ALGS = ["HS256", "HS384", "HS512"]


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def new_secret(alg: str) -> str:
    """A secret shaped like Countersign's (`cs_sk_` + base64url of random bytes), at least as
    long as the hash output (RFC 7518 §3.2), so no library warns about it."""
    return "cs_sk_" + b64(secrets.token_bytes(48 if alg == "HS512" else 32))


def new_kid() -> str:
    return "k_" + secrets.token_hex(12)


def sign(claims, secret, alg, kid):
    headers = {"kid": kid} if kid is not None else None
    return jwt.encode(claims, secret, algorithm=alg, headers=headers)


def flip(ch: str) -> str:
    return "x" if ch != "x" else "y"


def flip_payload_char(token: str, user_id: str) -> str:
    """Changes one character of the user id inside the signed payload, keeps the signature."""
    header, payload, signature = token.split(".")
    text = unb64(payload).decode("utf-8")
    assert user_id in text, text
    forged = user_id[:-1] + flip(user_id[-1])
    return ".".join([header, b64(text.replace(user_id, forged).encode("utf-8")), signature])


def alter_signature(token: str) -> str:
    """Changes the first character of the signature segment (the last one may carry padding
    bits, where a change could make the segment non-canonical instead of wrong)."""
    header, payload, signature = token.split(".")
    return ".".join([header, payload, flip(signature[0]) + signature[1:]])


def swap_alg(token: str, alg: str) -> str:
    """Re-encodes the header claiming another HMAC algorithm; payload and signature kept."""
    header, payload, signature = token.split(".")
    fields = json.loads(unb64(header))
    fields["alg"] = alg
    return ".".join([b64(json.dumps(fields).encode()), payload, signature])


def emit(name, alg, secret, key_kid, kid, token, expect, claims, user_id=None):
    print(
        json.dumps(
            {
                "lib": LIB,
                "name": name,
                "alg": alg,
                "app_id": APP_ID,
                "key_kid": key_kid,
                "secret": secret,
                "kid": kid,
                "now": NOW,
                "token": token,
                "expect": expect,
                "user_id": user_id,
                "claims": claims,
            }
        )
    )


def cases_for(alg: str) -> None:
    secret, kid = new_secret(alg), new_kid()
    tag = alg.lower()

    def case(name, claims, expect, user_id=None, token_kid=kid, key=None, tamper=None):
        token = sign(claims, key or secret, alg, token_kid)
        if tamper is not None:
            token = tamper(token)
        emit(f"{alg} {name}", alg, secret, kid, token_kid, token, expect, claims, user_id)

    uid = f"py-{tag}-user"
    # Accepted shapes: kid or not, user_id or sub, every registered time claim, issuer.
    case("kid, user_id, iat+exp, attribute", {"user_id": uid, "plan": "pro", "iat": NOW, "exp": NOW + 600}, "verified", uid)
    case("no kid, sub, nbf+iat+exp", {"sub": uid, "iat": NOW - 5, "nbf": NOW - 5, "exp": NOW + 3600}, "verified", uid, token_kid=None)
    case("iss = app_id", {"user_id": uid, "iss": APP_ID, "iat": NOW}, "verified", uid)
    case("no time claims", {"user_id": uid}, "verified", uid, token_kid=None)
    case("exp 30 s ago, within leeway", {"user_id": uid, "exp": NOW - 30}, "verified", uid)
    # Claims that fail.
    case("expired", {"user_id": uid, "iat": NOW - 7200, "exp": NOW - 3600}, "token_expired")
    case("nbf in an hour", {"user_id": uid, "nbf": NOW + 3600}, "token_not_yet_valid")
    case("iat in an hour", {"user_id": uid, "iat": NOW + 3600}, "token_issued_in_future")
    case("wrong iss", {"user_id": uid, "iss": "https://attacker.example"}, "invalid_issuer")
    case("no user id", {"plan": "pro", "iat": NOW}, "missing_user_id")
    case("numeric user_id", {"user_id": 42}, "invalid_user_id")
    # Tampered tokens and wrong keys.
    good = {"user_id": uid, "iat": NOW, "exp": NOW + 600}
    case("payload char flipped", good, "invalid_signature", tamper=lambda t: flip_payload_char(t, uid))
    case("no kid, payload char flipped", good, "invalid_signature", token_kid=None, tamper=lambda t: flip_payload_char(t, uid))
    case("signature altered", good, "invalid_signature", tamper=alter_signature)
    case("wrong secret", good, "invalid_signature", key=new_secret(alg))
    case("no kid, wrong secret", good, "invalid_signature", token_kid=None, key=new_secret(alg))
    case("unknown kid", good, "unknown_key", token_kid=new_kid())
    other = {"HS256": "HS512", "HS384": "HS256", "HS512": "HS384"}[alg]
    case(f"header alg swapped to {other}", good, "invalid_signature", tamper=lambda t: swap_alg(t, other))
    case("header alg lowercased", good, "unsupported_algorithm", tamper=lambda t: swap_alg(t, alg.lower()))


def main() -> None:
    for alg in ALGS:
        cases_for(alg)
    # alg "none", made by the library itself.
    uid = "py-none-user"
    claims = {"user_id": uid, "iat": NOW}
    secret, kid = new_secret("HS256"), new_kid()
    token = jwt.encode(claims, None, algorithm="none")
    emit("none: unsigned token", "none", secret, kid, None, token, "unsupported_algorithm", claims)
    token = jwt.encode(claims, None, algorithm="none", headers={"kid": kid})
    emit("none: unsigned token naming the key", "none", secret, kid, kid, token, "unsupported_algorithm", claims)


if __name__ == "__main__":
    main()
