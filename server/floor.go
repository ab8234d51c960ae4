package server

import (
	"context"

	benchv1 "github.com/topicd/topicd/proto/topicd/bench/v1"
	topicdv1 "github.com/topicd/topicd/proto/topicd/v1"
)

// FloorSample is the document whose classification [Floor] returns: about 200 bytes, the size
// the Classify-versus-Floor benchmark sends.
const FloorSample = "Officials said on Tuesday that a ransomware attack on the ministry's network " +
	"exposed the records of asylum seekers, and diplomats met to discuss the breach and " +
	"the talks on border cooperation."

// Floor implements topicd.bench.v1.FloorService: it returns a classification computed once, so a
// load test can compare Classify with the cost of the RPC alone on the same server, through the
// same interceptors. Serve it only for benchmarks (topicd --bench-floor).
type Floor struct {
	benchv1.UnimplementedFloorServiceServer
	resp *benchv1.FloorResponse
}

var _ benchv1.FloorServiceServer = (*Floor)(nil)

// NewFloor classifies FloorSample with the registry's default model and keeps the response.
func NewFloor(reg *Registry) (*Floor, error) {
	s := New(reg, Options{})
	resp, err := s.Classify(context.Background(), &topicdv1.ClassifyRequest{
		Document: &topicdv1.Document{Id: "floor", Text: FloorSample},
	})
	if err != nil {
		return nil, err
	}
	return &Floor{resp: &benchv1.FloorResponse{Response: resp}}, nil
}

// Floor returns the fixed response. The request was decoded by gRPC, which is the cost measured.
func (f *Floor) Floor(context.Context, *benchv1.FloorRequest) (*benchv1.FloorResponse, error) {
	return f.resp, nil
}
