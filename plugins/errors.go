package plugins

import "errors"

// Errors returned by the Host. Calls wrap them with the plugin's name
// ("plugins/NAME: ..."), so errors.Is works on every returned error.
var (
	ErrUnknownPlugin   = errors.New("plugins: no such plugin installed")
	ErrDisabled        = errors.New("plugins: plugin is disabled")
	ErrKindNotServed   = errors.New("plugins: plugin does not serve this kind")
	ErrLocalModelsOnly = errors.New("plugins: third-party model refused: local models only is on")
	ErrBusy            = errors.New("plugins: too many calls in flight")
	ErrCircuitOpen     = errors.New("plugins: circuit breaker open after repeated failures")
	ErrRestarting      = errors.New("plugins: plugin crashed and is waiting to restart")
	ErrRefused         = errors.New("plugins: plugin refused to start")
	ErrChecksum        = errors.New("plugins: binary checksum does not match the installed checksum")
	ErrIncompatible    = errors.New("plugins: incompatible plugin API version")
	ErrAudit           = errors.New("plugins: audit log unavailable, hand-over refused")
	ErrManifest        = errors.New("plugins: invalid manifest")
	ErrClosed          = errors.New("plugins: host closed")
	ErrUnconfined      = errors.New("plugins: plugin cannot be confined")
	ErrGrant           = errors.New("plugins: path grant refused")
	ErrNotApproved     = errors.New("plugins: installed binary not approved by an administrator")
	ErrExists          = errors.New("plugins: a plugin of that name is installed")
	ErrTooLarge        = errors.New("plugins: over a configured limit")
)
