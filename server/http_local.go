package server

import (
	"context"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"

	topicdv1 "github.com/topicd/topicd/proto/topicd/v1"
)

// The HTTP front's transcoder (grpc-gateway) calls the services through their generated client
// interfaces. localClient implements them in process: a unary call runs the server's method
// through the same interceptor chain as a gRPC call (metrics, call log, default deadline,
// recovery) with no transport in between, which is what keeps HTTP/JSON calls within reach of
// gRPC's speed (see the README). ClassifyStream, whose request and response flow at the same
// time, goes to an inner grpc.Server on an in-memory listener (http.go) instead.
type localClient struct {
	s      *Server
	chain  grpc.UnaryServerInterceptor
	stream topicdv1.ClassifierServiceClient
}

var (
	_ topicdv1.ClassifierServiceClient = (*localClient)(nil)
	_ topicdv1.ModelServiceClient      = (*localClient)(nil)
)

func newLocalClient(s *Server, stream topicdv1.ClassifierServiceClient) *localClient {
	unary, _ := s.interceptors()
	return &localClient{s: s, chain: chainUnary(unary), stream: stream}
}

// chainUnary folds interceptors into one, the first outermost, as grpc.ChainUnaryInterceptor.
func chainUnary(ics []grpc.UnaryServerInterceptor) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		next := handler
		for i := len(ics) - 1; i >= 0; i-- {
			ic, inner := ics[i], next
			next = func(ctx context.Context, req any) (any, error) { return ic(ctx, req, info, inner) }
		}
		return next(ctx, req)
	}
}

// methodStream is the grpc.ServerTransportStream of an in-process call: it gives grpc.Method
// the method's name, and drops headers and trailers, which the JSON answer does not carry.
type methodStream struct{ method string }

func (m methodStream) Method() string                     { return m.method }
func (methodStream) SetHeader(metadata.MD) error          { return nil }
func (methodStream) SendHeader(metadata.MD) error         { return nil }
func (methodStream) SetTrailer(metadata.MD) error         { return nil }
func (methodStream) SendMsg(any) error                    { return nil }
func (methodStream) RecvMsg(any) error                    { return nil }
func (methodStream) Context() context.Context             { return context.Background() }
func (methodStream) SetSendCompress(string) error         { return nil }
func (methodStream) SendCompress() string                 { return "" }
func (methodStream) ClientSupportedCompressors() []string { return nil }

// unary runs handler as the gRPC method named by info through the interceptor chain. The call
// is marked in the request's state so that the error handler can tell an error of the call
// from one of decoding the JSON body before it.
func unary[Req, Resp any](l *localClient, ctx context.Context, info *grpc.UnaryServerInfo, req Req, handler func(context.Context, Req) (Resp, error)) (Resp, error) {
	if st := stateOf(ctx); st != nil {
		st.called = true
	}
	ctx = grpc.NewContextWithServerTransportStream(ctx, methodStream{info.FullMethod})
	resp, err := l.chain(ctx, req, info, func(ctx context.Context, req any) (any, error) {
		return handler(ctx, req.(Req))
	})
	if err != nil {
		var zero Resp
		return zero, err
	}
	return resp.(Resp), nil
}

var (
	infoClassify      = &grpc.UnaryServerInfo{FullMethod: topicdv1.ClassifierService_Classify_FullMethodName}
	infoClassifyBatch = &grpc.UnaryServerInfo{FullMethod: topicdv1.ClassifierService_ClassifyBatch_FullMethodName}
	infoListModels    = &grpc.UnaryServerInfo{FullMethod: topicdv1.ModelService_ListModels_FullMethodName}
	infoGetModel      = &grpc.UnaryServerInfo{FullMethod: topicdv1.ModelService_GetModel_FullMethodName}
)

func (l *localClient) Classify(ctx context.Context, in *topicdv1.ClassifyRequest, _ ...grpc.CallOption) (*topicdv1.ClassifyResponse, error) {
	return unary(l, ctx, infoClassify, in, l.s.Classify)
}

func (l *localClient) ClassifyBatch(ctx context.Context, in *topicdv1.ClassifyBatchRequest, _ ...grpc.CallOption) (*topicdv1.ClassifyBatchResponse, error) {
	return unary(l, ctx, infoClassifyBatch, in, l.s.ClassifyBatch)
}

func (l *localClient) ClassifyStream(ctx context.Context, opts ...grpc.CallOption) (grpc.BidiStreamingClient[topicdv1.ClassifyStreamRequest, topicdv1.ClassifyStreamResponse], error) {
	st := stateOf(ctx)
	if st != nil {
		st.called = true
	}
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		ctx = metadata.AppendToOutgoingContext(ctx, httpPeerKey, p.Addr.String())
	}
	stream, err := l.stream.ClassifyStream(ctx, opts...)
	if err != nil || st == nil {
		return stream, err
	}
	return newCheckedStream(ctx, stream, st, l.s.rejected), nil
}

func (l *localClient) ListModels(ctx context.Context, in *topicdv1.ListModelsRequest, _ ...grpc.CallOption) (*topicdv1.ListModelsResponse, error) {
	return unary(l, ctx, infoListModels, in, l.s.ListModels)
}

func (l *localClient) GetModel(ctx context.Context, in *topicdv1.GetModelRequest, _ ...grpc.CallOption) (*topicdv1.GetModelResponse, error) {
	return unary(l, ctx, infoGetModel, in, l.s.GetModel)
}

// httpPeerKey carries an HTTP stream's client address to the inner gRPC server, whose own peer
// is the in-memory listener; only the HTTP front can set it (the header is not forwarded).
const httpPeerKey = "x-topicd-http-peer"

// httpPeer is a stream interceptor of the inner gRPC server: the call log shows the HTTP
// client's address, not the in-memory listener's.
func httpPeer(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	md, _ := metadata.FromIncomingContext(ss.Context())
	if v := md.Get(httpPeerKey); len(v) == 1 {
		ctx := peer.NewContext(ss.Context(), &peer.Peer{Addr: peerAddr(v[0])})
		return handler(srv, &ctxStream{ServerStream: ss, ctx: ctx})
	}
	return handler(srv, ss)
}

// peerAddr is an address known only as a string.
type peerAddr string

func (a peerAddr) Network() string { return "tcp" }
func (a peerAddr) String() string  { return string(a) }

// headerFirst is a stream interceptor of the inner gRPC server: it sends the stream's headers at
// once. The gateway waits for them before it forwards any answer, and gRPC sends them with the
// first answer of the server; an answer the front makes itself (a line over the limit, see
// checkedStream) must not wait for that, which never comes when no document reached the server.
func headerFirst(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	if err := ss.SendHeader(nil); err != nil {
		return err
	}
	return handler(srv, ss)
}
