// Package pocketsphinx is the built-in speech-to-text engine: CMU
// PocketSphinx 5prealpha (Debian libpocketsphinx-dev, pocketsphinx-en-us)
// through cgo.
//
// Decoders are expensive (about 90 MB and 0.6 s to initialise; about
// 145 MB and 2 s with the spoken-forms prior's second search, on by
// default for the accurate search), so the
// Engine keeps a pool of warm decoders reused across engagements, each bound
// to its own locked OS thread, and makes the next warm one in the
// background when a stream takes one (warmpool.go). A stream holds one decoder for its lifetime
// and feeds it 20 ms chunks through ps_process_raw; partial hypotheses come
// from ps_get_hyp, utterance ends from ps_get_in_speech (and from the
// pipeline's VAD), words with times and posterior confidences from
// ps_seg_iter.
//
// Two acoustic set-ups ("profiles") exist: wideband for 16 kHz sources and
// narrowband for 8 kHz telephone audio upsampled by media/audio. Live
// cepstral mean normalisation starts from -cmninit, and PocketSphinx's
// streaming mode recognises poorly until it has adapted; feat.params in the
// model directory silently overrides a command-line -cmninit, so the
// narrowband profile uses a copy of the model directory whose feat.params
// carries a -cmninit measured through exactly this pipeline on held-out
// recordings (see DefaultNarrowbandCMNInit). Config.WidebandCMNAdaptMs and
// NarrowbandCMNAdaptMs optionally make the running mean the live CMN
// during an utterance instead of only at its end. Each stream starts from its profile's initial
// CMN, so engagements do not inherit each other's channel.
package pocketsphinx
