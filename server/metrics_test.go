package server

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/topicd/topicd/models"
	topicdv1 "github.com/topicd/topicd/proto/topicd/v1"
)

func TestMetrics(t *testing.T) {
	preg := prometheus.NewRegistry()
	m, err := NewMetrics(preg)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := NewRegistry(RegistryOptions{Builtin: []NamedModel{{Name: models.DefaultName, Model: defaultModel(t)}}, Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	env := newTestEnv(t, reg, Options{Metrics: m})
	m.InitializeGRPC(env.gs)
	ctx := testCtx(t)
	resp, err := env.cls.Classify(ctx, &topicdv1.ClassifyRequest{Document: doc("", sampleArticle)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.cls.Classify(ctx, &topicdv1.ClassifyRequest{Document: doc("", " ")}); err == nil {
		t.Fatal("Classify(blank) succeeded")
	}

	label := resp.Classification.Label
	if got := metricValue(t, preg, MetricDocuments, "model", models.DefaultName, "label", label); got != 1 {
		t.Errorf("%s{model=%q,label=%q} = %v, want 1", MetricDocuments, models.DefaultName, label, got)
	}
	if got := metricValue(t, preg, MetricRejected, "code", "InvalidArgument"); got != 1 {
		t.Errorf("%s{code=InvalidArgument} = %v, want 1", MetricRejected, got)
	}
	if got := metricValue(t, preg, MetricModelInfo, "model", models.DefaultName, "version", defaultModel(t).Version(), "default", "true"); got != 1 {
		t.Errorf("%s = %v, want 1", MetricModelInfo, got)
	}
	for _, name := range []string{MetricDocuments, MetricRejected, MetricDocumentBytes, MetricClassifySeconds, MetricModelInfo, MetricModelLoadError,
		"grpc_server_handled_total", "grpc_server_handling_seconds", "grpc_server_started_total"} {
		if metricValue(t, preg, name) < 0 {
			t.Errorf("metric %s missing", name)
		}
	}
}

// metricValue returns the value (a histogram's count) of the first series of metric name whose
// labels include the given name/value pairs, or -1 when there is none.
func metricValue(t *testing.T, g prometheus.Gatherer, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	series:
		for _, m := range mf.GetMetric() {
			have := map[string]string{}
			for _, lp := range m.GetLabel() {
				have[lp.GetName()] = lp.GetValue()
			}
			for i := 0; i+1 < len(labels); i += 2 {
				if have[labels[i]] != labels[i+1] {
					continue series
				}
			}
			return value(m)
		}
	}
	return -1
}

func value(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Histogram != nil:
		return float64(m.Histogram.GetSampleCount())
	}
	return 0
}
