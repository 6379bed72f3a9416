// Package cli is the admin commands of the narcidi binary that call a
// running server's API through the typed client api/apiclient: the
// resource verbs (licenses, machines, customers, tokens, subscriptions,
// meters, policies, entitlements), release publishing, activate-offline,
// and insights simulate/evaluate (which work on files only). cmd/narcidi
// dispatches to them.
//
// Where a new thing goes: a verb is one row in cliVerbs (cli.go) calling
// an apiclient method; its flags are fields of that row.
package cli
