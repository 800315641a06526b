package builtin

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/earshot/earshot/inference"
)

const notesModel = "notes-extractive@1"

// actionVerbs mark what an agent did ("I've reset", "I have sent").
var doneMarkers = []string{"ive", "i have", "weve", "we have", "i just", "ive just", "has been", "have been", "is now", "are now", "i went ahead", "done"}

// outcome words of a resolved or unresolved engagement.
var (
	resolvedWords   = []string{"that's sorted", "thats sorted", "that works", "that's great", "thats great", "perfect", "that's all", "thats all", "thank you so much", "resolved", "that helps", "brilliant", "appreciate"}
	unresolvedWords = []string{"still not", "not happy", "unacceptable", "complaint", "manager", "supervisor", "ridiculous", "waste of time"}
)

// WriteNotes implements inference.NoteWriter: a draft wrap-up note built
// from the conversation's own sentences. Reason: the customer's first
// substantive sentences; actions: the agent's sentences reporting something
// done; outcome: resolved / follow-up pending / unresolved from the closing
// turns and the tasks; follow-ups: the extracted tasks.
func (p *Provider) WriteNotes(ctx context.Context, conv []inference.Utterance) (inference.Notes, error) {
	return p.writeNotes(ctx, conv, time.Now())
}

func (p *Provider) writeNotes(ctx context.Context, conv []inference.Utterance, ref time.Time) (inference.Notes, error) {
	if err := p.notesInput(ctx, conv); err != nil {
		return inference.Notes{}, err
	}
	tasks, err := p.ExtractTasks(ctx, conv, ref)
	if err != nil {
		return inference.Notes{}, err
	}
	return notesFrom(splitSentences(conv), tasks), nil
}

// notesInput checks a conversation for the note writer and counts the call.
func (p *Provider) notesInput(ctx context.Context, conv []inference.Utterance) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := validateConv(conv); err != nil {
		p.metrics.badInput.WithLabelValues("conversation").Inc()
		return fmt.Errorf("builtin: write notes: %w", err)
	}
	p.metrics.calls.WithLabelValues("notes").Inc()
	return nil
}

// WriteNotesWithTasks drafts the note around tasks already extracted (by
// whichever provider serves tasks); with no tasks, as for an engagement
// whose follow-up tasks are switched off, the note's follow-ups and
// outcome say nothing of tasks.
func (p *Provider) WriteNotesWithTasks(ctx context.Context, conv []inference.Utterance, tasks []inference.Task) (inference.Notes, error) {
	if err := p.notesInput(ctx, conv); err != nil {
		return inference.Notes{}, err
	}
	return notesFrom(splitSentences(conv), tasks), nil
}

func notesFrom(sents []sentence, tasks []inference.Task) inference.Notes {
	n := inference.Notes{Provenance: inference.Provenance{Provider: ProviderName, Model: notesModel}}
	var reason []string
	for _, s := range sents {
		if s.party != inference.PartyCustomer || len(s.content) < 2 {
			continue
		}
		reason = append(reason, s.text)
		if len(reason) == 2 || len(strings.Fields(strings.Join(reason, " "))) > 25 {
			break
		}
	}
	n.Reason = strings.Join(reason, " ")
	var actions []string
	for _, s := range sents {
		if s.party != inference.PartyAgent {
			continue
		}
		for _, m := range doneMarkers {
			if containsPhrase(s.words, m) && len(s.content) >= 2 {
				actions = append(actions, s.text)
				break
			}
		}
		if len(actions) == 4 {
			break
		}
	}
	n.Actions = strings.Join(actions, " ")
	var last []string
	for i := len(sents) - 1; i >= 0 && len(last) < 6; i-- {
		last = append(last, strings.Join(sents[i].words, " "))
	}
	tail := " " + strings.Join(last, " ") + " "
	unresolved, resolved := false, false
	for _, w := range unresolvedWords {
		if strings.Contains(tail, " "+strings.Join(words(w), " ")+" ") {
			unresolved = true
		}
	}
	for _, w := range resolvedWords {
		if strings.Contains(tail, " "+strings.Join(words(w), " ")+" ") {
			resolved = true
		}
	}
	switch {
	case unresolved:
		n.Outcome = "Unresolved: the customer was not satisfied at the end of the engagement."
	case len(tasks) > 0:
		n.Outcome = fmt.Sprintf("Follow-up pending: %d task(s) agreed.", len(tasks))
	case resolved:
		n.Outcome = "Resolved during the engagement."
	default:
		n.Outcome = "Outcome not stated."
	}
	for _, t := range tasks {
		f := string(t.Owner) + ": " + t.Text
		if t.Due != "" {
			f += " (due " + t.Due + ")"
		}
		n.FollowUps = append(n.FollowUps, f)
	}
	return n
}
