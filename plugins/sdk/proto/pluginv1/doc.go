// Package pluginv1 holds the Earshot plugin protocol (plugin.proto) and the
// Go code protoc generates from it; package sdk wraps it in Go types. The
// generated files are committed; regenerate them with `make proto` in
// plugins/sdk.
package pluginv1
