// Command topicd is the topicd gRPC server: it labels news articles by topic (cybersecurity,
// migration, diplomacy, other) with a confidence for every label.
//
// It serves topicd.v1.ClassifierService and topicd.v1.ModelService next to grpc.health.v1.Health
// (overall "" and per service) and server reflection, so grpcurl works without .proto files:
//
//	go run ./cmd/topicd
//	grpcurl -plaintext localhost:50051 list
//
// # HTTP
//
// The same services are served as HTTP/JSON on --http-listen (default :8080; empty turns it
// off): POST /v1/classify, POST /v1/classify:batch, POST /v1/classify:stream (NDJSON),
// GET /v1/models and GET /v1/models/{name}, with /openapi.json, /healthz, /readyz (ready while
// gRPC health is SERVING and topicd is not shutting down) and a page at / to try the classifier in a browser. The TLS flags apply
// to both ports.
//
// # Configuration
//
// Every setting is a flag and an environment variable (--max-document-bytes and
// TOPICD_MAX_DOCUMENT_BYTES); a flag overrides the variable. Values are checked at start and a
// bad one stops topicd with a message naming the flag. `topicd --help` lists them all with
// their defaults.
//
// # Models
//
// topicd always holds the embedded model "news-topics". With --model-dir it also serves every
// *.model file of the folder under its file name without the extension (news-topics.model
// replaces the embedded model; symbolic links are followed). Files are reloaded on SIGHUP and
// when their size or modification time changes (polled every --reload-interval). A new version
// is swapped in atomically: calls in flight finish on the version they started with. A file that
// does not load, whether corrupt, truncated or still being written, never replaces a working
// version: the old one keeps serving, and the error is logged and shown in the model's load_error
// by ModelService. So does any *.model entry that is not a model file: a symbolic link to nothing
// or a loop, a folder, a named pipe, a file over --max-model-bytes (not read) or not starting like
// a model file, or a name that is not UTF-8 (listed escaped, as in m\xff). Load errors never show
// paths. To publish a model, write it under another name (not ending in .model) and rename it
// into place.
//
// # Logs
//
// slog, JSON (default) or text, on stderr. Once it listens, topicd logs one line with
// msg "serving" and the bound address in "addr" ("http_addr" for HTTP, "metrics_addr" when
// metrics are on), so a caller that asked for port 0 can read the port:
//
//	{"time":"...","level":"INFO","msg":"serving","addr":"127.0.0.1:50051","metrics_addr":"","http_addr":"[::]:8080",
//	 "tls":false,"mtls":false,"default_model":"news-topics","models":["news-topics"],
//	 "bench_floor":false,"ready_ms":13}
//
// Then one line per call: msg "call" with method, code, duration_us, peer, model and the error
// sent to the client; never the document text. An HTTP request adds a line with msg "http".
//
// # Metrics
//
// With --metrics-listen (off by default, so several replicas can share a host), Prometheus
// metrics are served over HTTP at /metrics: go-grpc-middleware's grpc_server_* metrics with
// handling-time histograms, and topicd_documents_classified_total{model,label},
// topicd_documents_rejected_total{code}, topicd_document_size_bytes{model},
// topicd_classification_duration_seconds{model}, topicd_model_loads_total{model,result},
// topicd_model_load_error{model}, topicd_model_info{model,version,default},
// topicd_stream_buffered_bytes (against --max-buffered-bytes) and topicd_log_lines_dropped_total,
// plus the Go and process collectors.
//
// # TLS
//
// --tls-cert and --tls-key serve TLS; --tls-client-ca also requires every client to present a
// certificate signed by that CA (mutual TLS).
//
// # Connections
//
// Each client connection is closed after about --max-connection-age (default 5m; gRPC adds up
// to 10% jitter so replicas do not all do it at once) with an HTTP/2 GOAWAY: the client opens a
// new connection for its next calls, resolving the server's name again, so clients of a
// headless Kubernetes Service find the replicas started since they connected. Calls running on
// the old connection get --max-connection-age-grace (default: --shutdown-timeout) to finish;
// a ClassifyStream still open then is cut, and topicctl batch resends its documents. A negative
// --max-connection-age keeps connections forever.
//
// # Signals
//
// SIGINT and SIGTERM shut down gracefully. Readiness goes off at once: health NOT_SERVING and
// /readyz 503 ("draining"), which it answers until topicd exits, its listener open. For
// --drain-delay (default 0) topicd goes on taking new calls on both ports, so that none is
// refused before load balancers notice. Then it takes no new calls (a new HTTP API request gets
// 503), open ClassifyStream calls answer the documents they took and end with UNAVAILABLE
// (clients resend the rest elsewhere), calls in flight finish, and what is open in the last tenth
// of --shutdown-timeout is cut: topicd exits within --shutdown-timeout, the delay included,
// whatever its clients do. A second SIGINT or SIGTERM exits at once, with status 1.
// SIGHUP reloads the model files. SIGPIPE is ignored: when standard error is a pipe that closes,
// log lines are dropped (and counted in topicd_log_lines_dropped_total), the server goes on.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	// A write to a closed standard error (topicd 2>&1 | head) must be an error the log writer
	// handles, not the SIGPIPE that Go's runtime otherwise kills the process with.
	signal.Ignore(syscall.SIGPIPE)
	ctx, cancel := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sigs
		cancel() // the first signal shuts down gracefully...
		s := <-sigs
		// ...and a second one, from an operator who will not wait, exits at once.
		fmt.Fprintf(os.Stderr, "topicd: second signal (%v): exiting without waiting for calls in flight\n", s)
		os.Exit(1)
	}()
	err := run(ctx, os.Args[1:], getenv, os.Stderr)
	signal.Stop(sigs)
	cancel()
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "topicd:", err)
		os.Exit(1)
	}
}

// getenv is os.Getenv, except that a variable set to the empty string reads as emptyEnv:
// TOPICD_HTTP_LISTEN= turns the HTTP front off, where an unset one leaves it on.
func getenv(name string) string {
	if v, ok := os.LookupEnv(name); ok && v == "" {
		return emptyEnv
	}
	return os.Getenv(name)
}
