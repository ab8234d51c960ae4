package server

import (
	"context"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	topicdv1 "github.com/topicd/topicd/proto/topicd/v1"
)

// ListModels returns every model of the registry, the default first, including models whose file
// failed to load (with their load error).
func (s *Server) ListModels(ctx context.Context, _ *topicdv1.ListModelsRequest) (*topicdv1.ListModelsResponse, error) {
	snap := s.reg.snap.Load()
	resp := &topicdv1.ListModelsResponse{DefaultModel: snap.def.name}
	for _, e := range snap.order {
		resp.Models = append(resp.Models, modelInfo(e, e == snap.def))
	}
	return resp, nil
}

// GetModel describes one model; an empty name means the default.
func (s *Server) GetModel(ctx context.Context, req *topicdv1.GetModelRequest) (*topicdv1.GetModelResponse, error) {
	snap := s.reg.snap.Load()
	e := snap.def
	if name := req.GetName(); name != "" {
		if e = snap.byName[name]; e == nil {
			return nil, errUnknownModel(name, snap.names())
		}
	}
	return &topicdv1.GetModelResponse{Model: modelInfo(e, e == snap.def)}, nil
}

func modelInfo(e *modelEntry, isDefault bool) *topicdv1.ModelInfo {
	mi := &topicdv1.ModelInfo{
		Name:      e.name,
		Default:   isDefault,
		LoadError: e.loadErr,
	}
	if !e.loadErrAt.IsZero() {
		mi.LoadErrorAt = timestamppb.New(e.loadErrAt)
	}
	if e.model == nil {
		return mi
	}
	info := e.info
	mi.Version = e.version
	mi.Labels = info.Labels
	mi.FallbackLabel = info.FallbackLabel
	mi.VocabularySize = uint64(info.VocabularySize)
	mi.LoadedAt = timestamppb.New(e.loadedAt)
	mi.FormatVersion = uint32(info.FormatVersion)
	mi.License = info.License
	mi.LabelMix = e.model.LabelMix()
	mi.TopicThresholds = info.TopicThresholds
	if len(info.TrainingDocuments) > 0 {
		mi.TrainingDocuments = make(map[string]uint64, len(info.TrainingDocuments))
		for l, n := range info.TrainingDocuments {
			mi.TrainingDocuments[l] = uint64(n)
		}
	}
	p := info.Provenance
	mi.Provenance = &topicdv1.Provenance{
		Corpus:       p.Corpus,
		CorpusSha256: p.CorpusSHA256,
		TrainedAt:    timestamp(p.TrainedAt),
		Settings:     p.Settings,
	}
	if ev := info.Evaluation; ev != nil {
		pe := &topicdv1.Evaluation{
			Dataset:                  ev.Dataset,
			Documents:                uint64(ev.Documents),
			Accuracy:                 ev.Accuracy,
			MacroF1:                  ev.MacroF1,
			ExpectedCalibrationError: ev.ExpectedCalibrationError,
		}
		for _, l := range ev.Labels {
			pe.Labels = append(pe.Labels, &topicdv1.LabelMetrics{
				Label: l.Label, Precision: l.Precision, Recall: l.Recall, F1: l.F1, Support: uint64(l.Support),
			})
		}
		mi.Evaluation = pe
	}
	return mi
}

func timestamp(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}
