// Command narcidi is Narcidi's one binary: the server (serve), schema
// migrations (migrate) and key custody (keys). It only parses configuration
// and wires the packages together; the logic lives in licensing, storage,
// keys and api.
package main
