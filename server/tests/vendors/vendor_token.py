#!/usr/bin/env python3
"""A user token made with PyJWT the way a vendor's identity verification guide makes it.

Usage: vendor_token.py intercom|featurebase|fogbender, with SECRET, USER_ID, EMAIL and NAME in
the environment. Prints the token. Each payload is the one the vendor documents:

- Intercom (Messenger security, "JWT"): `user_id`, `email`, and an `exp`.
- Featurebase (SSO / identify with JWT): `name`, `email`, `userId`.
- Fogbender (signed user tokens): `userId`, `customerId`, `customerName`, `userEmail`,
  `userName`.

None of them puts a `kid` in the header or an `iss` in the payload.
"""

import os
import sys
import time

import jwt

vendor = sys.argv[1]
secret = os.environ["SECRET"]
user_id, email, name = os.environ["USER_ID"], os.environ["EMAIL"], os.environ["NAME"]

if vendor == "intercom":
    payload = {"user_id": user_id, "email": email, "exp": int(time.time()) + 3600}
elif vendor == "featurebase":
    payload = {"name": name, "email": email, "userId": user_id}
elif vendor == "fogbender":
    payload = {
        "userId": user_id,
        "customerId": "acme-org",
        "customerName": "Acme Inc.",
        "userEmail": email,
        "userName": name,
    }
else:
    sys.exit(f"vendor_token.py: unknown vendor {vendor!r}")

print(jwt.encode(payload, secret, algorithm="HS256"))
