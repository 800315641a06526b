// Package inference holds the capability interfaces of Earshot's AI features
// (sentiment, summaries, intents, tasks, dispositions, keywords, escalation,
// generation) and, in its sub-packages, the providers that implement them:
// built-in pure-Go models that ship in the binary, a local Ollama server, and
// plugins. Workforce forecasting and staffing also live below this package.
//
// Every interface here is small and is satisfied by the built-in provider, so
// the appliance is complete with no language model at all. Callers must
// tolerate recognition errors in transcripts: inputs are speech-to-text output.
package inference
