// Interop token generator: node's `jsonwebtoken` and `jose` sign, countersign-core verifies
// (core/tests/interop.rs).
//
// Prints one JSON object per line, a case:
//   {lib, name, alg, app_id, key_kid, secret, kid, now, token, expect, user_id, claims}
// where `expect` is "verified" or the reason code countersign-core must answer, `key_kid` and
// `secret` describe the workspace's one primary key, `kid` is the kid the token's header carries
// (null for none) and `now` the unix time the claims were made against. Tokens are made fresh on
// every run, with fresh random secrets; tampered variants are derived here from library output.
//
// The packages come from core/tests/interop/node_modules (`npm ci` there; scripts/provision.sh
// does it) or from a directory on NODE_PATH. Exits 3 when one is missing.

import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";

const require = createRequire(import.meta.url);

/** Loads a package beside this script or on NODE_PATH (ESM ignores NODE_PATH, CJS does not). */
async function load(name) {
  let entry;
  try {
    entry = require.resolve(name);
  } catch {
    process.stderr.write(
      `gen_node.mjs: the npm package "${name}" is not installed. Run scripts/test (or ` +
        "source scripts/provision.sh && install_interop_tools, i.e. npm ci in core/tests/interop).\n",
    );
    process.exit(3);
  }
  let dir = dirname(entry);
  while (!dir.endsWith(`node_modules/${name}`) && dir !== dirname(dir)) dir = dirname(dir);
  const { version } = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
  const module = await import(pathToFileURL(entry).href);
  return { module: module.default ?? module, namespace: module, version };
}

const jsonwebtoken = await load("jsonwebtoken");
const jose = await load("jose");
const { SignJWT, UnsecuredJWT } = jose.namespace;

const APP_ID = "app_interop";
const NOW = Math.floor(Date.now() / 1000);
const ALGS = ["HS256", "HS384", "HS512"];

const b64 = (bytes) => Buffer.from(bytes).toString("base64url");
const unb64 = (segment) => Buffer.from(segment, "base64url").toString("utf8");

/** A secret shaped like Countersign's (`cs_sk_` + base64url of random bytes), at least as long
 *  as the hash output (RFC 7518 §3.2), so no library refuses or warns about it. */
const newSecret = (alg) => "cs_sk_" + b64(randomBytes(alg === "HS512" ? 48 : 32));
const newKid = () => "k_" + randomBytes(12).toString("hex");
const flip = (ch) => (ch !== "x" ? "x" : "y");

/** Changes one character of the user id inside the signed payload, keeps the signature. */
function flipPayloadChar(token, userId) {
  const [header, payload, signature] = token.split(".");
  const text = unb64(payload);
  if (!text.includes(userId)) throw new Error(`user id not in payload: ${text}`);
  const forged = userId.slice(0, -1) + flip(userId.at(-1));
  return [header, b64(text.replace(userId, forged)), signature].join(".");
}

/** Changes the first character of the signature segment (the last one may carry padding bits,
 *  where a change could make the segment non-canonical instead of wrong). */
function alterSignature(token) {
  const [header, payload, signature] = token.split(".");
  return [header, payload, flip(signature[0]) + signature.slice(1)].join(".");
}

/** Re-encodes the header claiming another algorithm; payload and signature kept. */
function swapAlg(token, alg) {
  const [header, payload, signature] = token.split(".");
  const fields = { ...JSON.parse(unb64(header)), alg };
  return [b64(JSON.stringify(fields)), payload, signature].join(".");
}

const signers = {
  [`jsonwebtoken ${jsonwebtoken.version}`]: async (claims, secret, alg, kid) =>
    jsonwebtoken.module.sign(claims, secret, {
      algorithm: alg,
      // noTimestamp drops a given iat too; without it, a given iat is kept as is.
      noTimestamp: !("iat" in claims),
      ...(kid === null ? {} : { keyid: kid }),
    }),
  [`jose ${jose.version}`]: async (claims, secret, alg, kid) =>
    new SignJWT(claims)
      .setProtectedHeader(kid === null ? { alg } : { alg, kid })
      .sign(new TextEncoder().encode(secret)),
};

const unsigned = {
  [`jsonwebtoken ${jsonwebtoken.version}`]: (claims, kid) =>
    jsonwebtoken.module.sign(claims, null, {
      algorithm: "none",
      noTimestamp: !("iat" in claims),
      ...(kid === null ? {} : { keyid: kid }),
    }),
  [`jose ${jose.version}`]: (claims) => new UnsecuredJWT(claims).encode(),
};

const lines = [];
function emit(lib, name, alg, secret, keyKid, kid, token, expect, claims, userId = null) {
  lines.push(
    JSON.stringify({
      lib,
      name,
      alg,
      app_id: APP_ID,
      key_kid: keyKid,
      secret,
      kid,
      now: NOW,
      token,
      expect,
      user_id: userId,
      claims,
    }),
  );
}

async function casesFor(lib, sign, alg) {
  const secret = newSecret(alg);
  const kid = newKid();
  const uid = `${lib.split(" ")[0]}-${alg.toLowerCase()}-user`;
  const cas = async (name, claims, expect, opts = {}) => {
    const tokenKid = "kid" in opts ? opts.kid : kid;
    let token = await sign(claims, opts.key ?? secret, alg, tokenKid);
    if (opts.tamper) token = opts.tamper(token);
    emit(lib, `${alg} ${name}`, alg, secret, kid, tokenKid, token, expect, claims, opts.userId ?? null);
  };

  // Accepted shapes: kid or not, user_id or sub, every registered time claim, issuer.
  await cas("kid, user_id, iat+exp, attribute", { user_id: uid, plan: "pro", iat: NOW, exp: NOW + 600 }, "verified", { userId: uid });
  await cas("no kid, sub, nbf+iat+exp", { sub: uid, iat: NOW - 5, nbf: NOW - 5, exp: NOW + 3600 }, "verified", { userId: uid, kid: null });
  await cas("iss = app_id", { user_id: uid, iss: APP_ID, iat: NOW }, "verified", { userId: uid });
  await cas("no time claims", { user_id: uid }, "verified", { userId: uid, kid: null });
  await cas("exp 30 s ago, within leeway", { user_id: uid, exp: NOW - 30 }, "verified", { userId: uid });
  // Claims that fail.
  await cas("expired", { user_id: uid, iat: NOW - 7200, exp: NOW - 3600 }, "token_expired");
  await cas("nbf in an hour", { user_id: uid, nbf: NOW + 3600 }, "token_not_yet_valid");
  await cas("iat in an hour", { user_id: uid, iat: NOW + 3600 }, "token_issued_in_future");
  await cas("wrong iss", { user_id: uid, iss: "https://attacker.example" }, "invalid_issuer");
  await cas("no user id", { plan: "pro", iat: NOW }, "missing_user_id");
  await cas("numeric user_id", { user_id: 42 }, "invalid_user_id");
  // Tampered tokens and wrong keys.
  const good = { user_id: uid, iat: NOW, exp: NOW + 600 };
  await cas("payload char flipped", good, "invalid_signature", { tamper: (t) => flipPayloadChar(t, uid) });
  await cas("no kid, payload char flipped", good, "invalid_signature", { kid: null, tamper: (t) => flipPayloadChar(t, uid) });
  await cas("signature altered", good, "invalid_signature", { tamper: alterSignature });
  await cas("wrong secret", good, "invalid_signature", { key: newSecret(alg) });
  await cas("no kid, wrong secret", good, "invalid_signature", { kid: null, key: newSecret(alg) });
  await cas("unknown kid", good, "unknown_key", { kid: newKid() });
  const other = { HS256: "HS512", HS384: "HS256", HS512: "HS384" }[alg];
  await cas(`header alg swapped to ${other}`, good, "invalid_signature", { tamper: (t) => swapAlg(t, other) });
  await cas("header alg lowercased", good, "unsupported_algorithm", { tamper: (t) => swapAlg(t, alg.toLowerCase()) });
}

for (const [lib, sign] of Object.entries(signers)) {
  for (const alg of ALGS) await casesFor(lib, sign, alg);
  // alg "none", made by the library itself.
  const uid = `${lib.split(" ")[0]}-none-user`;
  const claims = { user_id: uid, iat: NOW };
  const secret = newSecret("HS256");
  const kid = newKid();
  emit(lib, "none: unsigned token", "none", secret, kid, null, unsigned[lib](claims, null), "unsupported_algorithm", claims);
  if (lib.startsWith("jsonwebtoken")) {
    emit(lib, "none: unsigned token naming the key", "none", secret, kid, kid, unsigned[lib](claims, kid), "unsupported_algorithm", claims);
  }
}
process.stdout.write(lines.join("\n") + "\n");
