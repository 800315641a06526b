// Package builtin is Earshot's built-in inference provider: pure-Go models
// that ship inside the binary and need no GPU, no network and no language
// model, so every agent-assist feature works on its own.
//
// Live, per final segment: customer sentiment (a VADER-style lexicon scorer
// extended with a contact-centre lexicon, or a linear model trained on the
// site's labels), a smoothed sentiment Trend, intent detection (a linear SVM
// over word and character n-grams trained on the site's training phrases),
// next best actions from a Catalogue, and an Escalation risk with reasons.
// Live bundles these per engagement.
//
// After the engagement: an extractive, dialogue-aware summary with keywords,
// a draft wrap-up note, follow-up tasks with owners and due dates, a
// recommended disposition from the site's codes (learning from the codes
// agents chose), topics, and a preview of a customer's previous engagements.
//
// Trainable models (intents, dispositions, sentiment) are trained in the
// caller's goroutine or in the background through a Trainer, and swapped in
// atomically; they serialise with Export and load with Import so the daemon
// can store them. Every result carries Provenance{Provider: "builtin"}.
package builtin
