// Package bot is Earshot's virtual agent: bot definitions a site designs,
// their validation, and the runtime that converses with customers.
//
// A Definition (YAML or JSON, see Decode and Encode) declares intents with
// training phrases, slots with built-in extractors (package slots), skills
// run by skill plugins, and flows: small graphs of steps that send
// messages, collect slots, branch on conditions, call skills, answer from
// the knowledge base, set variables, hand over to the human queue or end.
// Validate names every problem of a definition: unreachable flows and
// steps, slots used before they are collected, skills that cannot run,
// loops that never wait for the customer, intents with too few phrases,
// bad references, expressions and limits.
//
// An Engine is one published version: its compiled definition and its
// intent detector (package nlu: the built-in classifier with a calibrated
// confidence and an out-of-scope threshold chosen on held-out phrases).
// A Session is one conversation. The runtime is channel-agnostic: text in
// (Session.Handle), messages and actions out (Turn), so that chat, the
// chat WebSocket, the web widget and a voice loop drive it the same way;
// transport concerns (typing indicators, DTMF, barge-in) stay with the
// channel. Global handlers (asking for a person, cancel, goodbye, thanks,
// greetings, repeated misunderstanding) apply everywhere. With agentic
// mode on and a local model configured, the model picks each next action
// under a JSON schema and the runtime checks it against the definition
// before running it, taking over itself on timeout, schema failure or a
// disallowed choice.
//
// Stats describe a conversation without its content, for reporting
// (Aggregate); Coach items are the messages the bot could learn from.
// The package never logs customer content.
package bot
