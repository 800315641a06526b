package sdk

import (
	"context"
	"errors"
	"fmt"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/earshot/earshot/plugins/sdk/proto/pluginv1"
)

func engagementToPB(e Engagement) *pb.Engagement {
	out := &pb.Engagement{
		EngagementId: e.EngagementID,
		Channel:      e.Channel,
		CustomerRef:  e.CustomerRef,
		Intents:      e.Intents,
		Summary:      e.Summary,
		Results:      e.Results,
	}
	for _, s := range e.Transcript {
		out.Transcript = append(out.Transcript, &pb.Segment{
			Speaker: s.Speaker, StartMs: s.Start.Milliseconds(), EndMs: s.End.Milliseconds(), Text: s.Text,
		})
	}
	return out
}

func engagementFromPB(e *pb.Engagement) Engagement {
	if e == nil {
		return Engagement{}
	}
	out := Engagement{
		EngagementID: e.GetEngagementId(),
		Channel:      e.GetChannel(),
		CustomerRef:  e.GetCustomerRef(),
		Intents:      e.GetIntents(),
		Summary:      e.GetSummary(),
		Results:      e.GetResults(),
	}
	for _, s := range e.GetTranscript() {
		out.Transcript = append(out.Transcript, Segment{
			Speaker: s.GetSpeaker(),
			Start:   time.Duration(s.GetStartMs()) * time.Millisecond,
			End:     time.Duration(s.GetEndMs()) * time.Millisecond,
			Text:    s.GetText(),
		})
	}
	return out
}

func cardsToPB(cs []Card) []*pb.Card {
	out := make([]*pb.Card, 0, len(cs))
	for _, c := range cs {
		pc := &pb.Card{Title: c.Title, Link: c.Link}
		for _, f := range c.Fields {
			pc.Fields = append(pc.Fields, &pb.Field{Key: f.Key, Label: f.Label, Value: f.Value})
		}
		out = append(out, pc)
	}
	return out
}

func cardsFromPB(cs []*pb.Card) []Card {
	out := make([]Card, 0, len(cs))
	for _, c := range cs {
		card := Card{Title: c.GetTitle(), Link: c.GetLink()}
		for _, f := range c.GetFields() {
			card.Fields = append(card.Fields, Field{Key: f.GetKey(), Label: f.GetLabel(), Value: f.GetValue()})
		}
		out = append(out, card)
	}
	return out
}

func articleToPB(a Article) *pb.Article {
	var ms int64
	if !a.Updated.IsZero() {
		ms = a.Updated.UnixMilli()
	}
	return &pb.Article{Id: a.ID, Title: a.Title, Body: a.Body, Url: a.URL, UpdatedUnixMs: ms, Tags: a.Tags}
}

func articleFromPB(a *pb.Article) Article {
	out := Article{ID: a.GetId(), Title: a.GetTitle(), Body: a.GetBody(), URL: a.GetUrl(), Tags: a.GetTags()}
	if ms := a.GetUpdatedUnixMs(); ms != 0 {
		out.Updated = time.UnixMilli(ms).UTC()
	}
	return out
}

// toStatus turns a plugin implementation's error into a gRPC status,
// keeping the SDK's sentinels recognisable on the host side.
func toStatus(err error) error {
	if err == nil {
		return nil
	}
	switch {
	case errors.Is(err, ErrNotFound):
		return status.Error(codes.NotFound, err.Error())
	case errors.Is(err, ErrInvalidInput):
		return status.Error(codes.InvalidArgument, err.Error())
	case errors.Is(err, ErrUnsupported):
		return status.Error(codes.Unimplemented, err.Error())
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, err.Error())
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, err.Error())
	}
	return status.Error(codes.Unknown, err.Error())
}

// RemoteError is an error returned by a plugin call: either the plugin's
// own error or a transport failure (Code Unavailable when the process died
// or the connection broke).
type RemoteError struct {
	Method string
	Code   codes.Code
	Msg    string
}

func (e *RemoteError) Error() string {
	return fmt.Sprintf("sdk: %s: %s: %s", e.Method, e.Code, e.Msg)
}

// Unwrap maps the status code back to the SDK's sentinels and to the
// context errors, so errors.Is works across the wire.
func (e *RemoteError) Unwrap() error {
	switch e.Code {
	case codes.NotFound:
		return ErrNotFound
	case codes.InvalidArgument:
		return ErrInvalidInput
	case codes.Unimplemented:
		return ErrUnsupported
	case codes.DeadlineExceeded:
		return context.DeadlineExceeded
	case codes.Canceled:
		return context.Canceled
	}
	return nil
}

// Transport reports whether the error came from the connection rather than
// from the plugin's own code: the process is gone, hung up or unreachable.
func (e *RemoteError) Transport() bool {
	return e.Code == codes.Unavailable
}

func fromStatus(method string, err error) error {
	if err == nil {
		return nil
	}
	st, ok := status.FromError(err)
	if !ok {
		return &RemoteError{Method: method, Code: codes.Unknown, Msg: err.Error()}
	}
	return &RemoteError{Method: method, Code: st.Code(), Msg: st.Message()}
}
