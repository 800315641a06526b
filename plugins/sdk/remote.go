package sdk

import (
	"context"

	"google.golang.org/grpc"

	pb "github.com/earshot/earshot/plugins/sdk/proto/pluginv1"
)

// Remote is the host's handle on a running plugin: it implements every
// kind's interface by calling the plugin over gRPC. Calling a kind the
// plugin does not serve returns an error wrapping ErrUnsupported. Errors
// are *RemoteError values. A Remote is safe for concurrent use.
type Remote struct {
	base      pb.BaseClient
	info      pb.InfoServiceClient
	knowledge pb.KnowledgeServiceClient
	skill     pb.SkillServiceClient
	model     pb.ModelServiceClient
	keys      pb.KeyServiceClient
	sink      pb.SinkServiceClient
}

// Interface guards: a Remote is every kind.
var (
	_ InfoProvider    = (*Remote)(nil)
	_ KnowledgeSource = (*Remote)(nil)
	_ SkillProvider   = (*Remote)(nil)
	_ ModelProvider   = (*Remote)(nil)
	_ KeyProvider     = (*Remote)(nil)
	_ Sink            = (*Remote)(nil)
)

// NewRemote returns a Remote over a gRPC connection to a plugin.
func NewRemote(cc grpc.ClientConnInterface) *Remote {
	return &Remote{
		base:      pb.NewBaseClient(cc),
		info:      pb.NewInfoServiceClient(cc),
		knowledge: pb.NewKnowledgeServiceClient(cc),
		skill:     pb.NewSkillServiceClient(cc),
		model:     pb.NewModelServiceClient(cc),
		keys:      pb.NewKeyServiceClient(cc),
		sink:      pb.NewSinkServiceClient(cc),
	}
}

// Info asks the plugin who it is.
func (r *Remote) Info(ctx context.Context) (PluginInfo, error) {
	resp, err := r.base.Info(ctx, &pb.InfoRequest{HostApiVersion: apiVersion})
	if err != nil {
		return PluginInfo{}, fromStatus("Info", err)
	}
	pi := PluginInfo{Name: resp.GetName(), Version: resp.GetVersion(), APIVersion: resp.GetApiVersion()}
	for _, k := range resp.GetKinds() {
		pi.Kinds = append(pi.Kinds, Kind(k))
	}
	return pi, nil
}

// Configure hands the plugin its configuration.
func (r *Remote) Configure(ctx context.Context, config map[string]string) error {
	_, err := r.base.Configure(ctx, &pb.ConfigureRequest{Config: config})
	return fromStatus("Configure", err)
}

// Cards implements InfoProvider.
func (r *Remote) Cards(ctx context.Context, e Engagement) ([]Card, error) {
	resp, err := r.info.Cards(ctx, &pb.CardsRequest{Engagement: engagementToPB(e)})
	if err != nil {
		return nil, fromStatus("Cards", err)
	}
	return cardsFromPB(resp.GetCards()), nil
}

// Changes implements KnowledgeSource.
func (r *Remote) Changes(ctx context.Context, cursor string, limit int) (Changes, error) {
	resp, err := r.knowledge.Changes(ctx, &pb.ChangesRequest{Cursor: cursor, Limit: int32(min(limit, 1<<30))})
	if err != nil {
		return Changes{}, fromStatus("Changes", err)
	}
	ch := Changes{DeletedIDs: resp.GetDeletedIds(), NextCursor: resp.GetNextCursor(), More: resp.GetMore()}
	for _, a := range resp.GetArticles() {
		ch.Articles = append(ch.Articles, articleFromPB(a))
	}
	return ch, nil
}

// Skills implements SkillProvider.
func (r *Remote) Skills(ctx context.Context) ([]Skill, error) {
	resp, err := r.skill.ListSkills(ctx, &pb.ListSkillsRequest{})
	if err != nil {
		return nil, fromStatus("ListSkills", err)
	}
	out := make([]Skill, 0, len(resp.GetSkills()))
	for _, s := range resp.GetSkills() {
		out = append(out, Skill{Name: s.GetName(), Description: s.GetDescription(), InputSchema: s.GetInputSchema()})
	}
	return out, nil
}

// Invoke implements SkillProvider.
func (r *Remote) Invoke(ctx context.Context, req InvokeRequest) (InvokeResult, error) {
	resp, err := r.skill.Invoke(ctx, &pb.InvokeRequest{
		Skill: req.Skill, InputJson: req.InputJSON, Engagement: engagementToPB(req.Engagement),
	})
	if err != nil {
		return InvokeResult{}, fromStatus("Invoke", err)
	}
	return InvokeResult{ResultJSON: resp.GetResultJson(), Message: resp.GetMessage()}, nil
}

// Capabilities implements ModelProvider.
func (r *Remote) Capabilities(ctx context.Context) ([]string, error) {
	resp, err := r.model.Capabilities(ctx, &pb.CapabilitiesRequest{})
	if err != nil {
		return nil, fromStatus("Capabilities", err)
	}
	return resp.GetCapabilities(), nil
}

// Infer implements ModelProvider.
func (r *Remote) Infer(ctx context.Context, req InferRequest) (InferResult, error) {
	resp, err := r.model.Infer(ctx, &pb.InferRequest{
		Capability: req.Capability, Engagement: engagementToPB(req.Engagement), Params: req.Params,
	})
	if err != nil {
		return InferResult{}, fromStatus("Infer", err)
	}
	return InferResult{Text: resp.GetText(), Score: resp.GetScore(), Outputs: resp.GetOutputs()}, nil
}

// Wrap implements KeyProvider.
func (r *Remote) Wrap(ctx context.Context, keyID string, plaintext []byte) ([]byte, string, error) {
	resp, err := r.keys.Wrap(ctx, &pb.WrapRequest{KeyId: keyID, Plaintext: plaintext})
	if err != nil {
		return nil, "", fromStatus("Wrap", err)
	}
	return resp.GetCiphertext(), resp.GetKeyId(), nil
}

// Unwrap implements KeyProvider.
func (r *Remote) Unwrap(ctx context.Context, keyID string, ciphertext []byte) ([]byte, error) {
	resp, err := r.keys.Unwrap(ctx, &pb.UnwrapRequest{KeyId: keyID, Ciphertext: ciphertext})
	if err != nil {
		return nil, fromStatus("Unwrap", err)
	}
	return resp.GetPlaintext(), nil
}

// CreateKey implements KeyManager. A plugin that does not manage keys
// (or was built against API 1.0) gives an error wrapping ErrUnsupported.
func (r *Remote) CreateKey(ctx context.Context, keyID string) error {
	_, err := r.keys.CreateKey(ctx, &pb.CreateKeyRequest{KeyId: keyID})
	return fromStatus("CreateKey", err)
}

// DestroyKey implements KeyManager, like CreateKey.
func (r *Remote) DestroyKey(ctx context.Context, keyID string) error {
	_, err := r.keys.DestroyKey(ctx, &pb.DestroyKeyRequest{KeyId: keyID})
	return fromStatus("DestroyKey", err)
}

// Deliver implements Sink.
func (r *Remote) Deliver(ctx context.Context, ev Event) error {
	pe := &pb.Event{Id: ev.ID, Type: ev.Type, Engagement: engagementToPB(ev.Engagement)}
	if !ev.Time.IsZero() {
		pe.TimeUnixMs = ev.Time.UnixMilli()
	}
	_, err := r.sink.Deliver(ctx, &pb.DeliverRequest{Event: pe})
	return fromStatus("Deliver", err)
}
