"""Narcidi lease verification for Python apps, over libnarcidi.so (ctypes,
standard library only).

    import narcidi
    lib = narcidi.Library("/opt/app/libnarcidi.so")  # or $NARCIDI_LIB
    fp = lib.fingerprint("com.nzilacode.studio")
    lease = lib.verify(token, jwks_json, product=PRODUCT_ID, fingerprint=fp)
    if "export" in lease.entitlements: ...

verify raises LeaseError, whose .code is the SDK's error code ("expired",
"wrong_product", "bad_signature", "bad_certificate", ...).
"""

import ctypes
import json
import os


class LeaseError(Exception):
    """A lease that does not verify; .code says why (verifier.Code)."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code


class Lease:
    """A verified lease: its claims (a dict), kid and certificate."""

    def __init__(self, answer):
        self.claims = answer["claims"]
        self.kid = answer.get("kid", "")
        self.certificate = answer.get("certificate")

    @property
    def entitlements(self):
        return frozenset(self.claims.get("entitlements") or ())

    @property
    def expires_at(self):
        return self.claims["exp"]

    def has_entitlement(self, code):
        return code in self.entitlements


class Library:
    """The loaded libnarcidi.so."""

    def __init__(self, path=None):
        path = path or os.environ.get("NARCIDI_LIB") or "libnarcidi.so"
        self._lib = ctypes.CDLL(path)
        # Returned strings are kept as raw pointers (c_void_p): ctypes would
        # otherwise copy them into Python and lose the pointer to free.
        self._lib.narcidi_verify.restype = ctypes.c_void_p
        self._lib.narcidi_verify.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int,
                                             ctypes.c_char_p, ctypes.c_char_p, ctypes.c_longlong]
        self._lib.narcidi_fingerprint.restype = ctypes.c_void_p
        self._lib.narcidi_fingerprint.argtypes = [ctypes.c_char_p]
        self._lib.narcidi_free.restype = None
        self._lib.narcidi_free.argtypes = [ctypes.c_void_p]

    def _answer(self, ptr):
        try:
            return json.loads(ctypes.string_at(ptr).decode("utf-8"))
        finally:
            self._lib.narcidi_free(ptr)

    def verify(self, token, keys_json, product, fingerprint, roots=False, now=0):
        """Verify a lease offline against a JWKS (signing keys, or root keys
        when roots is true); now is Unix seconds (0: the system clock)."""
        if not isinstance(keys_json, str):
            keys_json = json.dumps(keys_json)
        ans = self._answer(self._lib.narcidi_verify(token.encode(), keys_json.encode(), 1 if roots else 0,
                                                    product.encode(), fingerprint.encode(), int(now)))
        if not ans.get("ok"):
            raise LeaseError(ans.get("code", "internal"), ans.get("error", ""))
        return Lease(ans)

    def fingerprint(self, app_id):
        """This machine's fingerprint for app_id (NARCIDI_MACHINE_ID and
        NARCIDI_MACHINE_ID_FILE override the machine id)."""
        ans = self._answer(self._lib.narcidi_fingerprint(app_id.encode()))
        if not ans.get("ok"):
            raise OSError(ans.get("error", "no fingerprint"))
        return ans["fingerprint"]
