// Package packaging holds the files that install Earshot on a machine: the
// systemd unit template, the default configuration and environment file,
// and the package build scripts. The unit and configuration are embedded so
// that `earshot service install` and the package build use the same text.
package packaging

import (
	_ "embed"
	"strings"
)

// SystemdUnit is the unit template in kardianos/service syntax. Its only
// action is {{Path | cmdEscape}}, the daemon binary's path.
//
//go:embed earshot.service
var SystemdUnit string

// DefaultConfig is the commented configuration installed as
// /etc/earshot/earshot.yaml when none exists.
//
//go:embed earshot.yaml
var DefaultConfig string

// DefaultEnv is installed as /etc/default/earshot.
//
//go:embed earshot.default
var DefaultEnv string

// PathAction is the template's one action.
const PathAction = "{{Path | cmdEscape}}"

// RenderUnit returns the unit for a binary at path (a path without spaces,
// as package builds use).
func RenderUnit(path string) string {
	return strings.ReplaceAll(SystemdUnit, PathAction, path)
}
