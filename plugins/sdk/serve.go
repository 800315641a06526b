package sdk

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	pb "github.com/earshot/earshot/plugins/sdk/proto/pluginv1"
)

// Plugin describes a plugin to Serve: its identity, an optional Configure
// hook, and one implementation per kind it serves (nil fields are kinds it
// does not serve). A plugin must serve at least one kind.
type Plugin struct {
	Name    string
	Version string // the plugin's own semver version

	// Configure, if set, receives the administrator-set configuration
	// (e.g. a file path, a URL, a secret) after every start, before any
	// other call. Returning an error stops the host from using the plugin.
	Configure func(ctx context.Context, config map[string]string) error

	Info      InfoProvider
	Knowledge KnowledgeSource
	Skills    SkillProvider
	Model     ModelProvider
	Keys      KeyProvider
	Sink      Sink
}

// Kinds returns the kinds p serves, in the order of the package's Kinds.
func (p *Plugin) Kinds() []Kind {
	var ks []Kind
	if p.Info != nil {
		ks = append(ks, KindInfo)
	}
	if p.Knowledge != nil {
		ks = append(ks, KindKnowledge)
	}
	if p.Skills != nil {
		ks = append(ks, KindSkill)
	}
	if p.Model != nil {
		ks = append(ks, KindModel)
	}
	if p.Keys != nil {
		ks = append(ks, KindKeys)
	}
	if p.Sink != nil {
		ks = append(ks, KindSink)
	}
	return ks
}

// Validate reports what is wrong with p, if anything.
func (p *Plugin) Validate() error {
	if p == nil {
		return errors.New("sdk: nil plugin")
	}
	if p.Name == "" {
		return errors.New("sdk: plugin name is empty")
	}
	if _, err := ParseSemver(p.Version); err != nil {
		return fmt.Errorf("sdk: plugin %s: version: %w", p.Name, err)
	}
	if len(p.Kinds()) == 0 {
		return fmt.Errorf("sdk: plugin %s implements no kind", p.Name)
	}
	return nil
}

// stderr is the process's original standard error, captured before
// go-plugin redirects os.Stderr; the host reads it for log lines.
var stderr = os.Stderr

// Logger returns a logger for plugin code. Its JSON lines reach the
// daemon's log with their level and key-value pairs, tagged with the
// plugin's name. Never log customer content (transcripts, summaries,
// customer data): log IDs and counts.
func Logger() hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{Level: hclog.Info, Output: stderr, JSONFormat: true})
}

// Serve runs p as a plugin process and returns only when the host tells it
// to stop. Call it from main. It exits the process with status 1 if p is
// invalid or the binary was started by hand rather than by the host.
func Serve(p *Plugin) {
	if err := p.Validate(); err != nil {
		fmt.Fprintln(stderr, err)
		os.Exit(1)
	}
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig:  Handshake,
		VersionedPlugins: map[int]plugin.PluginSet{ProtocolVersion: {PluginName: &GRPCPlugin{Impl: p}}},
		GRPCServer:       plugin.DefaultGRPCServer,
		Logger:           hclog.New(&hclog.LoggerOptions{Level: hclog.Info, Output: stderr, JSONFormat: true, Name: p.Name}),
	})
}

// VersionedPlugins is the host's side of version negotiation: the plugin
// sets the host can dispense, by wire protocol version. Dispensing
// PluginName yields a *Remote.
func VersionedPlugins() map[int]plugin.PluginSet {
	return map[int]plugin.PluginSet{ProtocolVersion: {PluginName: &GRPCPlugin{}}}
}

// GRPCPlugin is the go-plugin glue: on the plugin side it registers Impl's
// services, on the host side it returns a *Remote.
type GRPCPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	Impl *Plugin // plugin side only
}

var _ plugin.GRPCPlugin = (*GRPCPlugin)(nil)

// GRPCServer registers the services of every kind Impl serves.
func (g *GRPCPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	if err := g.Impl.Validate(); err != nil {
		return err
	}
	Register(s, g.Impl)
	return nil
}

// GRPCClient returns a *Remote over cc.
func (g *GRPCPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, cc *grpc.ClientConn) (any, error) {
	return NewRemote(cc), nil
}

// Register registers p's services on s: Base always, and one service per
// kind p serves. Serve and package sdktest use it; a host never does.
func Register(s grpc.ServiceRegistrar, p *Plugin) {
	pb.RegisterBaseServer(s, &baseServer{p: p})
	if p.Info != nil {
		pb.RegisterInfoServiceServer(s, &infoServer{impl: p.Info})
	}
	if p.Knowledge != nil {
		pb.RegisterKnowledgeServiceServer(s, &knowledgeServer{impl: p.Knowledge})
	}
	if p.Skills != nil {
		pb.RegisterSkillServiceServer(s, &skillServer{impl: p.Skills})
	}
	if p.Model != nil {
		pb.RegisterModelServiceServer(s, &modelServer{impl: p.Model})
	}
	if p.Keys != nil {
		pb.RegisterKeyServiceServer(s, &keyServer{impl: p.Keys})
	}
	if p.Sink != nil {
		pb.RegisterSinkServiceServer(s, &sinkServer{impl: p.Sink})
	}
}

type baseServer struct {
	pb.UnimplementedBaseServer
	p *Plugin
}

func (s *baseServer) Info(context.Context, *pb.InfoRequest) (*pb.InfoResponse, error) {
	resp := &pb.InfoResponse{Name: s.p.Name, Version: s.p.Version, ApiVersion: apiVersion}
	for _, k := range s.p.Kinds() {
		resp.Kinds = append(resp.Kinds, string(k))
	}
	return resp, nil
}

func (s *baseServer) Configure(ctx context.Context, req *pb.ConfigureRequest) (*pb.ConfigureResponse, error) {
	if s.p.Configure == nil {
		return &pb.ConfigureResponse{}, nil
	}
	cfg := req.GetConfig()
	if cfg == nil {
		cfg = map[string]string{}
	}
	return &pb.ConfigureResponse{}, toStatus(s.p.Configure(ctx, cfg))
}

type infoServer struct {
	pb.UnimplementedInfoServiceServer
	impl InfoProvider
}

func (s *infoServer) Cards(ctx context.Context, req *pb.CardsRequest) (*pb.CardsResponse, error) {
	cards, err := s.impl.Cards(ctx, engagementFromPB(req.GetEngagement()))
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.CardsResponse{Cards: cardsToPB(cards)}, nil
}

type knowledgeServer struct {
	pb.UnimplementedKnowledgeServiceServer
	impl KnowledgeSource
}

func (s *knowledgeServer) Changes(ctx context.Context, req *pb.ChangesRequest) (*pb.ChangesResponse, error) {
	ch, err := s.impl.Changes(ctx, req.GetCursor(), int(req.GetLimit()))
	if err != nil {
		return nil, toStatus(err)
	}
	resp := &pb.ChangesResponse{DeletedIds: ch.DeletedIDs, NextCursor: ch.NextCursor, More: ch.More}
	for _, a := range ch.Articles {
		resp.Articles = append(resp.Articles, articleToPB(a))
	}
	return resp, nil
}

type skillServer struct {
	pb.UnimplementedSkillServiceServer
	impl SkillProvider
}

func (s *skillServer) ListSkills(ctx context.Context, _ *pb.ListSkillsRequest) (*pb.ListSkillsResponse, error) {
	sk, err := s.impl.Skills(ctx)
	if err != nil {
		return nil, toStatus(err)
	}
	resp := &pb.ListSkillsResponse{}
	for _, k := range sk {
		resp.Skills = append(resp.Skills, &pb.Skill{Name: k.Name, Description: k.Description, InputSchema: k.InputSchema})
	}
	return resp, nil
}

func (s *skillServer) Invoke(ctx context.Context, req *pb.InvokeRequest) (*pb.InvokeResponse, error) {
	res, err := s.impl.Invoke(ctx, InvokeRequest{
		Skill: req.GetSkill(), InputJSON: req.GetInputJson(), Engagement: engagementFromPB(req.GetEngagement()),
	})
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.InvokeResponse{ResultJson: res.ResultJSON, Message: res.Message}, nil
}

type modelServer struct {
	pb.UnimplementedModelServiceServer
	impl ModelProvider
}

func (s *modelServer) Capabilities(ctx context.Context, _ *pb.CapabilitiesRequest) (*pb.CapabilitiesResponse, error) {
	c, err := s.impl.Capabilities(ctx)
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.CapabilitiesResponse{Capabilities: c}, nil
}

func (s *modelServer) Infer(ctx context.Context, req *pb.InferRequest) (*pb.InferResponse, error) {
	res, err := s.impl.Infer(ctx, InferRequest{
		Capability: req.GetCapability(), Engagement: engagementFromPB(req.GetEngagement()), Params: req.GetParams(),
	})
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.InferResponse{Text: res.Text, Score: res.Score, Outputs: res.Outputs}, nil
}

type keyServer struct {
	pb.UnimplementedKeyServiceServer
	impl KeyProvider
}

func (s *keyServer) Wrap(ctx context.Context, req *pb.WrapRequest) (*pb.WrapResponse, error) {
	ct, id, err := s.impl.Wrap(ctx, req.GetKeyId(), req.GetPlaintext())
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.WrapResponse{Ciphertext: ct, KeyId: id}, nil
}

func (s *keyServer) Unwrap(ctx context.Context, req *pb.UnwrapRequest) (*pb.UnwrapResponse, error) {
	pt, err := s.impl.Unwrap(ctx, req.GetKeyId(), req.GetCiphertext())
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.UnwrapResponse{Plaintext: pt}, nil
}

func (s *keyServer) CreateKey(ctx context.Context, req *pb.CreateKeyRequest) (*pb.CreateKeyResponse, error) {
	km, ok := s.impl.(KeyManager)
	if !ok {
		return nil, toStatus(ErrUnsupported)
	}
	if err := km.CreateKey(ctx, req.GetKeyId()); err != nil {
		return nil, toStatus(err)
	}
	return &pb.CreateKeyResponse{}, nil
}

func (s *keyServer) DestroyKey(ctx context.Context, req *pb.DestroyKeyRequest) (*pb.DestroyKeyResponse, error) {
	km, ok := s.impl.(KeyManager)
	if !ok {
		return nil, toStatus(ErrUnsupported)
	}
	if err := km.DestroyKey(ctx, req.GetKeyId()); err != nil {
		return nil, toStatus(err)
	}
	return &pb.DestroyKeyResponse{}, nil
}

type sinkServer struct {
	pb.UnimplementedSinkServiceServer
	impl Sink
}

func (s *sinkServer) Deliver(ctx context.Context, req *pb.DeliverRequest) (*pb.DeliverResponse, error) {
	ev := req.GetEvent()
	e := Event{ID: ev.GetId(), Type: ev.GetType(), Engagement: engagementFromPB(ev.GetEngagement())}
	if ms := ev.GetTimeUnixMs(); ms != 0 {
		e.Time = time.UnixMilli(ms).UTC()
	}
	return &pb.DeliverResponse{}, toStatus(s.impl.Deliver(ctx, e))
}
