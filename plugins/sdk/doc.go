// Package sdk is the Earshot plugin SDK: the types, per-kind interfaces and
// gRPC protocol that an integrator's plugin implements, and Serve, which
// runs a plugin as a go-plugin server.
//
// A plugin is an ordinary Go program whose main calls Serve with a Plugin
// value naming the kinds it implements:
//
//	func main() {
//		sdk.Serve(&sdk.Plugin{Name: "crm-acme", Version: "1.0.0", Info: myCRM{}})
//	}
//
// The Earshot daemon starts the binary, verifies its SHA-256 checksum,
// talks to it over gRPC with mutual TLS, and hands it only the engagement
// fields that an administrator approved for it. See README.md for how to
// write, build, test, sign and install a plugin, and package sdktest for
// running a plugin in-process in its author's tests.
//
// The module depends only on go-plugin, gRPC and protobuf, so a plugin pulls
// in none of the daemon's dependencies.
package sdk

//go:generate protoc --proto_path=proto --go_out=proto --go_opt=paths=source_relative --go-grpc_out=proto --go-grpc_opt=paths=source_relative pluginv1/plugin.proto
