"""Tests of narcidi.py, run by ../cabi_test.go with NARCIDI_LIB and the
vectors in NARCIDI_VECTORS (a JSON file the Go test writes)."""

import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import narcidi  # noqa: E402


class NarcidiTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.lib = narcidi.Library(os.environ["NARCIDI_LIB"])
        with open(os.environ["NARCIDI_VECTORS"]) as f:
            cls.v = json.load(f)

    def verify(self, token, **kw):
        v = self.v
        args = dict(product=v["product"], fingerprint=v["fingerprint"], now=v["now"])
        args.update(kw)
        return self.lib.verify(token, v["jwks"], **args)

    def test_valid(self):
        lease = self.verify(self.v["valid"])
        self.assertTrue(lease.has_entitlement("export"))
        self.assertFalse(lease.has_entitlement("admin"))
        self.assertEqual(lease.kid, self.v["kid"])

    def test_refusals(self):
        for token, code in self.v["refused"]:
            with self.assertRaises(narcidi.LeaseError) as ctx:
                self.verify(token)
            self.assertEqual(ctx.exception.code, code, token[:40])

    def test_wrong_product_and_machine(self):
        with self.assertRaises(narcidi.LeaseError) as ctx:
            self.verify(self.v["valid"], product="another")
        self.assertEqual(ctx.exception.code, "wrong_product")
        with self.assertRaises(narcidi.LeaseError) as ctx:
            self.verify(self.v["valid"], fingerprint="0000")
        self.assertEqual(ctx.exception.code, "fingerprint_mismatch")

    def test_expired_later(self):
        with self.assertRaises(narcidi.LeaseError) as ctx:
            self.verify(self.v["valid"], now=self.v["now"] + 7200)
        self.assertEqual(ctx.exception.code, "expired")

    def test_bad_keys(self):
        with self.assertRaises(narcidi.LeaseError) as ctx:
            self.lib.verify(self.v["valid"], "not json", self.v["product"], self.v["fingerprint"])
        self.assertEqual(ctx.exception.code, "bad_config")

    def test_fingerprint(self):
        # The Go test sets NARCIDI_MACHINE_ID=machine-abc: the library reads
        # the environment when it loads, not later changes to os.environ.
        self.assertEqual(self.lib.fingerprint("app-one"),
                         "f574fc2e757f99d38d1d5513963ded6c2e728de43d8e358572a05d388f6f0643")

    def test_many_calls_do_not_leak_or_crash(self):
        for _ in range(2000):
            self.verify(self.v["valid"])


if __name__ == "__main__":
    unittest.main()
