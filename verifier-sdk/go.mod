module github.com/nzilacode/narcidicontrole/verifier-sdk

go 1.26.8

require github.com/go-jose/go-jose/v4 v4.1.9

require (
	github.com/denisbrodbeck/machineid v1.0.1
	github.com/golang-jwt/jwt/v5 v5.3.1
)

require golang.org/x/sys v0.49.0 // indirect
