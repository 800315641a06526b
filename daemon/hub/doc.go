// Package hub owns the live state of every engagement: one goroutine per
// live engagement takes its transcript segments and chat messages in
// order, stores the final ones through the store's group commit, runs the
// live analyzers on each and publishes the results as events, and runs the
// post-engagement analyzers when the engagement ends. ServeEvents writes an
// engagement's events to a reader as server-sent events.
//
// The hub knows neither the ingest protocols that feed it nor the
// analyzers that listen to it: media sources call Start, Submit, Touch and
// End; analyzers implement LiveAnalyzer and PostAnalyzer and are added
// before the first engagement starts. Its dependencies (Store, Controls, a
// logger and a metrics registerer) are given to New.
package hub
