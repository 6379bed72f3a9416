#!/bin/sh
# Signs a neutral billing event and sends it to Narcidi's generic billing
# endpoint (POST /v1/billing/events): the way a local payment provider's
# integration (Pix, MB WAY, Multicaixa Express...) tells Narcidi that a
# subscription changed or was paid.
#
#   NARCIDI_URL=http://127.0.0.1:8080 NARCIDI_BILLING_SECRET=... \
#     scripts/billing-event.sh event.json
#
# The signature is Stripe's scheme with another header:
#   Narcidi-Billing-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>
# signed over the exact bytes sent; the server refuses a timestamp more
# than 5 minutes old (a replay). Needs openssl and curl.
set -eu
file=${1:?usage: $0 EVENT.json}
: "${NARCIDI_BILLING_SECRET:?set NARCIDI_BILLING_SECRET}"
url=${NARCIDI_URL:-http://127.0.0.1:8080}/v1/billing/events
t=$(date +%s)
sig=$( { printf '%s.' "$t"; cat "$file"; } | openssl dgst -sha256 -hmac "$NARCIDI_BILLING_SECRET" -r | cut -d' ' -f1)
exec curl -sS -X POST "$url" -H 'Content-Type: application/json' \
	-H "Narcidi-Billing-Signature: t=$t,v1=$sig" --data-binary "@$file"
