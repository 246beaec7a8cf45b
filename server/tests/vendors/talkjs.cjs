// A TalkJS user token, made exactly as TalkJS's identity verification guide makes it with
// node's `jsonwebtoken` (https://talkjs.com/docs/Features/Security/Authentication/):
//
//   const token = jwt.sign({ tokenType: 'user' }, secretKey, {
//     issuer: appId, subject: userId, expiresIn: '30s',
//   });
//
// Inputs from the environment: SECRET, APP_ID (the TalkJS app id, the issuer), USER_ID, and
// TOKEN_TYPE (default `user`; another value tests the profile's refusal). Prints the token.
// `jsonwebtoken` comes from core/tests/interop/node_modules via NODE_PATH (CommonJS honours it).

const jwt = require('jsonwebtoken');

const { SECRET: secretKey, APP_ID: appId, USER_ID: userId } = process.env;
const tokenType = process.env.TOKEN_TYPE || 'user';
const token = jwt.sign({ tokenType }, secretKey, {
  issuer: appId,
  subject: userId,
  expiresIn: '30s',
});
process.stdout.write(`${token}\n`);
