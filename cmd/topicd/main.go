// Command topicd is the topicd gRPC server: it labels news articles by topic (cybersecurity,
// migration, diplomacy, other) with a confidence for every label.
//
// It serves topicd.v1.ClassifierService and topicd.v1.ModelService with the embedded default
// model ("news-topics") and the *.model files of --model-dir, next to grpc.health.v1.Health and
// server reflection, so grpcurl works without .proto files. Every flag has an environment
// variable (TOPICD_LISTEN, ...); run `topicd --help` for the list and the defaults.
//
// Signals: SIGINT and SIGTERM shut down gracefully (health NOT_SERVING, streams end with
// UNAVAILABLE, calls in flight get --shutdown-timeout to finish); SIGHUP reloads the model files.
//
// Once it listens, topicd logs one line with msg "serving" and the bound address in "addr" (and
// "metrics_addr" when metrics are on), so a caller that asked for port 0 can read the port.
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
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stderr)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "topicd:", err)
		os.Exit(1)
	}
}
