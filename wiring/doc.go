// Package wiring builds the application from a Config: the stores, the
// services, the keys, the workers and the HTTP server. `narcidi serve`
// (App), `narcidi worker` (Worker), `narcidi seed` (CommandServices), the
// other commands on the database (OpenStore, OpenKeyring, LoadMaster) and
// the benchmark's profiled server all call it, so the application is wired
// in one place.
//
// Configuration is typed and checked once at load (config.go): each
// command reads only its own NARCIDI_* variables, a flag wins over its
// variable, and help and errors never show a secret's value. Before the
// keys are opened, the master key is checked against the database
// (masterkey.go), so a start with another key, or with master.key deleted,
// stops.
//
// Where a new thing goes: a setting is one row in config.go's table (or
// the settings function of its part: release, billing, insights, metrics);
// a new store, service or adapter is opened in App.Start (and Worker.Start
// when the jobs need it) and closed in Close. Logic does not go here: it
// belongs to licensing; Prometheus collectors and Redis relays belong to
// their adapters (api, workers, storage, keys).
package wiring
