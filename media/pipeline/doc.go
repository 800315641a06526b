// Package pipeline runs the per-party audio pipeline of live and uploaded
// engagements: decode -> resample to 16 kHz -> voice activity detection ->
// speech-to-text, and delivers transcript segments.
//
// Ownership and lifetime:
//
//   - A Pipeline admits engagements (Open) up to Config.MaxEngagements and
//     while no party's recogniser backlog exceeds Config.AdmitBacklog;
//     otherwise Open returns ErrBusy, which the ingest maps to HTTP 503 or
//     SIP 486, and the refusal is counted.
//   - An Engagement owns its parties and its Segments channel. The pipeline
//     creates and closes that channel: it is closed after Close (or the
//     cancellation of the ctx given to Open) once every party has drained.
//     The consumer (the daemon's engagement hub) must read it until closed;
//     a consumer that stops reading makes the party queues fill, and then
//     writes fail with ErrOverflow (counted, never silent).
//   - Party.Write*/WriteRTP are called by one ingest goroutine per party;
//     they decode in the caller (cheap) and queue PCM. They never wait on
//     the recogniser unless the engagement was opened with Blocking (offline
//     files), so media goroutines are not blocked by inference.
//   - Each party has one worker goroutine that resamples, runs the VAD and
//     drives its stt.Stream; Close waits for nothing, Wait does.
package pipeline
