// Package client is the Go client for topicd, the gRPC service that labels news articles by
// topic.
//
// # Connecting
//
// New takes a target and options and returns a Client that is safe for concurrent use. The
// target is one address ("localhost:50051"), a comma-separated list of addresses
// ("10.0.0.1:50051,10.0.0.2:50051") or any gRPC target such as "dns:///topicd.ns.svc:50051".
// Calls are spread over every address the target resolves to with gRPC's round_robin balancer,
// and replicas that fail their grpc.health.v1 check are left out. Calls that fail with
// UNAVAILABLE are retried with backoff. Without WithTLS the connection is plaintext.
//
//	c, err := client.New("localhost:50051")
//	if err != nil { ... }
//	defer c.Close()
//	cl, err := c.ClassifyText(ctx, "Hackers breached the ministry's mail servers.")
//
// # One document, many documents
//
// Classify and ClassifyText label one document; ClassifyBatch labels a slice in one call;
// OpenStream gives the raw ClassifyStream for callers that want to drive it themselves. For jobs
// over thousands or millions of documents use RunBatch: it runs several calls at once, keeps a
// bounded number of documents in flight, retries documents whose replica went away on the
// others, and reports exactly one Result per document.
//
// # Dependencies
//
// This package imports only gRPC and the generated API package topicdv1, never the classifier,
// so programs that call topicd do not build the model code.
package client

import (
	"context"
	"fmt"
	"strings"

	"google.golang.org/grpc"
	_ "google.golang.org/grpc/health" // registers client-side health checking, used by the service config
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/resolver/manual"

	topicdv1 "github.com/topicd/topicd/proto/topicd/v1"
)

// Client calls a topicd server or a set of replicas. It is safe for concurrent use; create one
// per target and share it, since each Client holds its own connections.
type Client struct {
	conn       *grpc.ClientConn
	classifier topicdv1.ClassifierServiceClient
	models     topicdv1.ModelServiceClient
	opts       options
}

// listScheme is the resolver scheme used for comma-separated address lists. The resolver is
// registered on the connection only (grpc.WithResolvers), so clients never share it.
const listScheme = "topicd-list"

// New returns a Client for target: one address, a comma-separated list of addresses, or a gRPC
// target URI such as "dns:///host:port". It does not connect: connections are made on the first
// call and kept, so a server that is not up yet is not an error here.
func New(target string, opts ...Option) (*Client, error) {
	o := defaultOptions()
	for _, opt := range opts {
		opt(&o)
	}
	dialOpts, err := o.dialOptions()
	if err != nil {
		return nil, err
	}
	target = strings.TrimSpace(target)
	if target == "" {
		return nil, fmt.Errorf("client: empty target: give an address such as localhost:50051")
	}
	if strings.Contains(target, ",") {
		var addrs []resolver.Address
		for a := range strings.SplitSeq(target, ",") {
			a = strings.TrimSpace(a)
			if a == "" {
				continue
			}
			if strings.Contains(a, "://") {
				return nil, fmt.Errorf("client: target list %q: give plain host:port addresses, not URIs", target)
			}
			addrs = append(addrs, resolver.Address{Addr: a})
		}
		if len(addrs) == 0 {
			return nil, fmt.Errorf("client: target list %q holds no address", target)
		}
		r := manual.NewBuilderWithScheme(listScheme)
		r.InitialState(resolver.State{Addresses: addrs})
		dialOpts = append(dialOpts, grpc.WithResolvers(r))
		target = listScheme + ":///" + addrs[0].Addr
	}
	conn, err := grpc.NewClient(target, dialOpts...)
	if err != nil {
		return nil, fmt.Errorf("client: connect to %q: %w", target, err)
	}
	return &Client{
		conn:       conn,
		classifier: topicdv1.NewClassifierServiceClient(conn),
		models:     topicdv1.NewModelServiceClient(conn),
		opts:       o,
	}, nil
}

// Conn returns the underlying connection, for calling services this package does not wrap
// (grpc.health.v1, reflection). Closing it closes the Client.
func (c *Client) Conn() *grpc.ClientConn { return c.conn }

// Close closes every connection of the Client. Calls in flight fail with CANCELED.
func (c *Client) Close() error { return c.conn.Close() }

// withTimeout applies the client's default timeout to calls whose context has no deadline.
func (c *Client) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok || c.opts.timeout <= 0 {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, c.opts.timeout)
}
