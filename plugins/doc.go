// Package plugins is the host side of Earshot's plugin system: discovery of
// installed plugins, checksum verification, lifecycle, scopes and the
// hand-over of data to plugin processes through go-plugin over gRPC.
//
// Plugins live in a directory, one folder per plugin holding the binary and
// a manifest.json (see Manifest). Install records the binary's SHA-256 in
// the manifest; every start verifies it (go-plugin SecureConfig) and talks
// to the process over gRPC with AutoMTLS. A plugin is used only while the
// Settings source says an administrator enabled it, and receives only the
// engagement fields named by scopes that its manifest requests and an
// administrator approved. Every hand-over of customer content is recorded
// through the Auditor before the call is made.
//
// Each call has a deadline, each plugin a bounded number of calls in
// flight and a circuit breaker; a plugin that crashes, hangs or is killed
// makes its calls fail fast and is restarted with exponential backoff, and
// never blocks the caller beyond its deadline.
package plugins
