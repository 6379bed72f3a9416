/* narcidi.h: the Narcidi lease verifier as a C library (libnarcidi.so, built
 * with `go build -buildmode=c-shared -o libnarcidi.so ./cabi` in
 * verifier-sdk). Every function returns a NUL-terminated UTF-8 JSON string
 * that the caller frees with narcidi_free. Thread-safe. */
#ifndef NARCIDI_H
#define NARCIDI_H

#ifdef __cplusplus
extern "C" {
#endif

/* Verifies a lease offline.
 *   token          the lease (compact JWS)
 *   keys_json      a JWKS: the server's signing keys, or the pinned root keys
 *   keys_are_roots 0: keys_json holds signing keys; 1: root keys
 *   product        the product id the lease must be for
 *   fingerprint    this machine's fingerprint (narcidi_fingerprint)
 *   now_unix       the time to check against, Unix seconds; 0: the system clock
 * Returns {"ok":true,"kid":...,"claims":{...},"certificate":{...}} or
 * {"ok":false,"code":"expired|wrong_product|bad_signature|...","error":"..."}. */
char *narcidi_verify(char *token, char *keys_json, int keys_are_roots, char *product, char *fingerprint, long long now_unix);

/* Returns {"ok":true,"fingerprint":"<hex>"} for app_id on this machine. */
char *narcidi_fingerprint(char *app_id);

/* Frees a string returned by this library. */
void narcidi_free(char *s);

#ifdef __cplusplus
}
#endif

#endif
