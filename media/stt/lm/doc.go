// Package lm builds domain language models for PocketSphinx from a site's
// own text: knowledge-base articles, the intents' training phrases, the
// virtual agent's prompts and slot values, the site vocabulary and, where
// an administrator approves them, transcripts.
//
// Build counts n-grams (up to trigrams) of normalised sentences and
// writes an ARPA model smoothed with interpolated modified Kneser-Ney
// (Chen and Goodman, 1998): absolute discounts D1, D2, D3+ per order
// estimated from the counts of counts, continuation counts for the lower
// orders, and a uniform distribution under the unigrams. The recogniser
// interpolates it linearly with its general model (pocketsphinx
// SetDomainLM).
//
// Manager keeps one model per profile (a queue): it rebuilds a profile's
// model in the background when its text changes, writes each build as a
// new version next to the previous one, and hands the new version to the
// recogniser, which uses it from the next stream on.
package lm
