// Package ollama implements Earshot's generative capabilities (summaries,
// smart notes, follow-up tasks, disposition recommendations, keywords, free
// text generation and embeddings) over a local Ollama server, reached through
// its HTTP API (github.com/ollama/ollama/api).
//
// Every structured feature asks the server for JSON constrained by a JSON
// Schema whose fields are all bounded (enums, maxLength, maxItems, integer
// ranges), so that even a weak model terminates, and validates the reply
// against the same schema on this side. When the server is down, too slow, or
// returns something that fails the schema, the Provider falls back to the
// built-in implementation it was given and counts the fallback by feature and
// reason. A circuit breaker stops a dead server from costing a timeout on
// every call.
//
// Customer content (the conversation) is sent only to the configured server,
// which must be on loopback unless Config.AllowRemote is set; it is never
// logged.
package ollama
