// Package qm is Earshot's quality management: speaker metrics, callouts
// and the interaction view of one engagement, automatic scorecards and
// their evaluations, calibration between automatic and human answers, and
// the roll-ups and reports a QA programme runs on.
//
//   - Metrics (metrics.go) computes talk time, silence, interruptions,
//     monologues, words per minute, hold and sentiment by quarter from
//     turns on the media clock (word times when the recogniser gave them),
//     and response times for chat.
//   - Callouts (callouts.go) finds the moments a supervisor should look at:
//     escalation requests, churn threats, complaints, compliance phrases
//     present or missing, long silences and overtalk bursts.
//   - Summarize (summary.go) writes the built-in summary in plain sentences:
//     reason for contact, what the agent did, outcome, follow-ups.
//   - Scorecard (scorecard.go) is a versioned definition with sections,
//     weighted questions, answer types, auto-fail questions and the engine
//     answering each; Validate names the offending field.
//   - Evaluator (evaluate.go, engines.go) answers a scorecard with rules,
//     a classifier trained on the admin's examples, or a local language
//     model under a JSON schema whose evidence is checked against the
//     transcript, falling back when it is not.
//   - Evaluation (evaluation.go) carries the review, override,
//     acknowledgement and dispute flow; Calibrate (calibration.go) measures
//     agreement and Cohen's kappa; Rollup and Report (rollup.go,
//     report.go) aggregate scores and engagement facts.
//
// The package never imports the daemon; it sees turns, facts and
// scorecards, and callers store what it returns.
package qm
