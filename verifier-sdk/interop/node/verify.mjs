// Verifies a Narcidi lease with the npm package jose, the way a Node.js app
// would with only the server's JWKS: {"token","jwks","product","now"} on
// standard input; {"ok":true,"kid","payload"} or {"ok":false,"code"} on
// standard output. Run by ../interop_test.go.
import { createLocalJWKSet, jwtVerify } from 'jose';

let input = '';
for await (const chunk of process.stdin) input += chunk;
const { token, jwks, product, now } = JSON.parse(input);
try {
  const { payload, protectedHeader } = await jwtVerify(token, createLocalJWKSet(jwks), {
    algorithms: ['EdDSA'],
    typ: 'narcidi-lease+jwt',
    audience: product,
    currentDate: new Date(now * 1000),
  });
  process.stdout.write(JSON.stringify({ ok: true, kid: protectedHeader.kid, payload }));
} catch (err) {
  process.stdout.write(JSON.stringify({ ok: false, code: err.code || String(err) }));
}
