// Package translate identifies the language of chat messages and translates
// them between the customer's and the agent's languages, offline.
//
// Language identification is built in (Identifier: a naive Bayes model over
// character n-grams and words, trained on Tatoeba sentences, see
// internal/lidtrain). An engagement's customer language settles over the
// first messages and may change or be fixed per queue (Settler,
// LanguageState).
//
// Engines translate behind one interface (Engine): Apertium (Debian's
// rule-based pairs, run as long-lived null-flush pipelines in a bounded
// pool), a local language model through Ollama (JSON under a schema,
// checked for plausibility), and a site's LibreTranslate server. The
// Translator chooses the engine, pivots through a shared language when no
// direct pair exists, applies the site's glossary to every engine, falls
// back to the next engine on failure, honours local-models-only, and always
// returns the message, untranslated with a notice when it must.
//
// Messages are customer content: nothing here logs or stores their text.
package translate
