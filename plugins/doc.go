// Package plugins is the host side of Earshot's plugin system: discovery of
// installed plugins, checksum verification, lifecycle, scopes and the
// hand-over of data to plugin processes through go-plugin over gRPC.
package plugins
