// Package sdktest runs an Earshot plugin in-process for its author's tests:
// the plugin's services are served over an in-memory gRPC connection with
// the same encoding as the real host, so a test exercises the protocol
// conversions without building a binary.
package sdktest

import (
	"context"
	"fmt"
	"net"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"

	"github.com/earshot/earshot/plugins/sdk"
)

// Conn is a running in-process plugin. Remote talks to it as the host
// would; Close stops it.
type Conn struct {
	Remote *sdk.Remote
	server *grpc.Server
	cc     *grpc.ClientConn
}

// Close stops the plugin server and closes the connection.
func (c *Conn) Close() error {
	err := c.cc.Close()
	c.server.Stop()
	return err
}

// Serve starts p in-process and returns a connection to it, after
// checking that p is valid and answers Info with its name.
func Serve(p *sdk.Plugin) (*Conn, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	ln := bufconn.Listen(1 << 20)
	srv := grpc.NewServer()
	sdk.Register(srv, p)
	go func() { _ = srv.Serve(ln) }()
	cc, err := grpc.NewClient("passthrough:///sdktest",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return ln.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		srv.Stop()
		return nil, fmt.Errorf("sdktest: dial: %w", err)
	}
	c := &Conn{Remote: sdk.NewRemote(cc), server: srv, cc: cc}
	info, err := c.Remote.Info(context.Background())
	if err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("sdktest: info: %w", err)
	}
	if info.Name != p.Name {
		_ = c.Close()
		return nil, fmt.Errorf("sdktest: info name %q, want %q", info.Name, p.Name)
	}
	return c, nil
}

// Start is Serve for tests: it fails t on error and closes the plugin when
// the test ends. If config is non-nil it is passed to the plugin's
// Configure hook, as the host does after every start.
func Start(t testing.TB, p *sdk.Plugin, config map[string]string) *sdk.Remote {
	t.Helper()
	c, err := Serve(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	if config != nil {
		if err := c.Remote.Configure(context.Background(), config); err != nil {
			t.Fatalf("sdktest: configure: %v", err)
		}
	}
	return c.Remote
}
