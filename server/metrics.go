package server

import (
	"time"

	grpcprom "github.com/grpc-ecosystem/go-grpc-middleware/providers/prometheus"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
)

// Metric names, for dashboards and the README.
const (
	MetricDocuments       = "topicd_documents_classified_total"
	MetricRejected        = "topicd_documents_rejected_total"
	MetricDocumentBytes   = "topicd_document_size_bytes"
	MetricClassifySeconds = "topicd_classification_duration_seconds"
	MetricModelLoads      = "topicd_model_loads_total"
	MetricModelLoadError  = "topicd_model_load_error"
	MetricModelInfo       = "topicd_model_info"
)

// Metrics are the server's Prometheus metrics: go-grpc-middleware's standard gRPC server metrics
// (grpc_server_started_total, grpc_server_handled_total, grpc_server_msg_received_total,
// grpc_server_msg_sent_total, grpc_server_handling_seconds) plus the topicd_* metrics named by
// the Metric* constants. A nil *Metrics records nothing. Safe for concurrent use.
type Metrics struct {
	grpc      *grpcprom.ServerMetrics
	documents *prometheus.CounterVec
	rejected  *prometheus.CounterVec
	size      *prometheus.HistogramVec
	latency   *prometheus.HistogramVec
	loads     *prometheus.CounterVec
	loadError *prometheus.GaugeVec
	info      *prometheus.GaugeVec
}

// NewMetrics creates the metrics and registers them with reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		grpc: grpcprom.NewServerMetrics(grpcprom.WithServerHandlingTimeHistogram(
			// Calls take tens of microseconds: the library's default buckets start at 5ms.
			grpcprom.WithHistogramBuckets(prometheus.ExponentialBuckets(25e-6, 4, 10)),
		)),
		documents: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: MetricDocuments,
			Help: "Documents classified, by model and top label.",
		}, []string{"model", "label"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: MetricRejected,
			Help: "Documents not classified, by gRPC status code (every call kind, every item of a batch or stream).",
		}, []string{"code"}),
		size: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    MetricDocumentBytes,
			Help:    "Size of the documents classified (title and text), in bytes.",
			Buckets: prometheus.ExponentialBuckets(64, 4, 9), // 64 B to 4 MiB
		}, []string{"model"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    MetricClassifySeconds,
			Help:    "Time to classify one document, without the RPC around it.",
			Buckets: prometheus.ExponentialBuckets(1e-6, 4, 11), // 1µs to 1s
		}, []string{"model"}),
		loads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: MetricModelLoads,
			Help: "Model file loads, by model and result (ok or error). A failed load keeps the previous version serving.",
		}, []string{"model", "result"}),
		loadError: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: MetricModelLoadError,
			Help: "1 when the last attempt to load the model's file failed, else 0.",
		}, []string{"model"}),
		info: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: MetricModelInfo,
			Help: "1 for each model served, with its version (content hash) and whether it is the default.",
		}, []string{"model", "version", "default"}),
	}
	for _, c := range []prometheus.Collector{m.grpc, m.documents, m.rejected, m.size, m.latency, m.loads, m.loadError, m.info} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// InitializeGRPC zeroes the gRPC metrics of every method registered on gs, so dashboards show
// methods that were never called. Call it after registering the services.
func (m *Metrics) InitializeGRPC(gs *grpc.Server) {
	if m != nil {
		m.grpc.InitializeMetrics(gs)
	}
}

func (m *Metrics) reject(code codes.Code) {
	if m != nil {
		m.rejected.WithLabelValues(code.String()).Inc()
	}
}

func (m *Metrics) modelLoaded(name string, ok bool) {
	if m == nil {
		return
	}
	result := "ok"
	if !ok {
		result = "error"
	}
	m.loads.WithLabelValues(name, result).Inc()
}

// modelsServed brings the per-model gauges in line with a newly published snapshot.
func (m *Metrics) modelsServed(old, s *snapshot) {
	if m == nil {
		return
	}
	for _, e := range old.order {
		if n := s.byName[e.name]; n == nil || n.version != e.version || (n == s.def) != (e == old.def) {
			m.info.DeleteLabelValues(e.name, e.version, boolLabel(e == old.def))
		}
		if s.byName[e.name] == nil {
			m.loadError.DeleteLabelValues(e.name)
		}
	}
	for _, e := range s.order {
		if e.model != nil {
			m.info.WithLabelValues(e.name, e.version, boolLabel(e == s.def)).Set(1)
		}
		failing := 0.0
		if e.loadErr != "" {
			failing = 1
		}
		m.loadError.WithLabelValues(e.name).Set(failing)
	}
}

func boolLabel(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

// modelMetrics holds one model's metric children, resolved once per model version so a call
// does no label lookup.
type modelMetrics struct {
	labels  []string
	docs    []prometheus.Counter // docs[i] counts labels[i]
	vec     *prometheus.CounterVec
	model   string
	size    prometheus.Observer
	latency prometheus.Observer
}

func (m *Metrics) forModel(model string, labels []string) *modelMetrics {
	if m == nil {
		return nil
	}
	mm := &modelMetrics{
		labels:  labels,
		vec:     m.documents,
		model:   model,
		size:    m.size.WithLabelValues(model),
		latency: m.latency.WithLabelValues(model),
	}
	for _, l := range labels {
		mm.docs = append(mm.docs, m.documents.WithLabelValues(model, l))
	}
	return mm
}

func (mm *modelMetrics) observe(label string, bytes int, d time.Duration) {
	if mm == nil {
		return
	}
	mm.size.Observe(float64(bytes))
	mm.latency.Observe(d.Seconds())
	for i, l := range mm.labels {
		if l == label {
			mm.docs[i].Inc()
			return
		}
	}
	mm.vec.WithLabelValues(mm.model, label).Inc()
}
