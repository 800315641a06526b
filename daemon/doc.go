// Package daemon is Earshot's service: configuration, wiring and lifecycle,
// the HTTP API and its authorisation, feature controls and the embedded web
// console. The engagement hub lives in daemon/hub. It is the only package that knows every
// other; the domain packages (media, inference, plugins, store) never import it.
package daemon
