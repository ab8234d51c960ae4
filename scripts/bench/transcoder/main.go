// Command transcoder measures HTTP/JSON Classify calls per second through the transcoders
// topicd could use in front of its grpc-go server, on loopback, with vegeta's attacker (pinned
// in this module's go.mod) at a fixed number of concurrent callers:
//
//   - gateway: topicd's HTTP front (grpc-gateway; unary calls in process through the server's
//     interceptors, server.HTTPFront);
//   - gateway-tcp: grpc-gateway's usual set-up, a gRPC client connection to the server's port;
//   - vanguard: connectrpc.com/vanguard's REST transcoder around the same grpc.Server
//     (vanguardgrpc.NewTranscoder, which calls grpc.Server.ServeHTTP in process).
//
// Each runs in rounds, the order alternating, and the medians are printed: calls per second, and
// the process's CPU time per call (getrusage, client and server together: the client's share is
// the same for every transcoder), which other load on the machine disturbs far less than calls
// per second. The server is the one topicd runs (embedded model, same interceptors, call log to
// io.Discard).
//
// Usage: go run ./scripts/bench/transcoder [-c 16] [-d 5s] [-rounds 3]
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"syscall"
	"time"

	"connectrpc.com/vanguard/vanguardgrpc"
	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	vegeta "github.com/tsenart/vegeta/v12/lib"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/topicd/topicd/models"
	topicdv1 "github.com/topicd/topicd/proto/topicd/v1"
	"github.com/topicd/topicd/server"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "transcoder:", err)
		os.Exit(1)
	}
}

func run() error {
	conc := flag.Uint64("c", 16, "concurrent callers")
	dur := flag.Duration("d", 5*time.Second, "duration of one run")
	rounds := flag.Int("rounds", 3, "runs per transcoder")
	body := flag.String("body", "scripts/bench/testdata/doc200.json", "request body (a ClassifyRequest as JSON)")
	flag.Parse()
	reqBody, err := os.ReadFile(*body)
	if err != nil {
		return err
	}

	m, err := models.Default()
	if err != nil {
		return err
	}
	reg, err := server.NewRegistry(server.RegistryOptions{Builtin: []server.NamedModel{{Name: models.DefaultName, Model: m}}, Default: models.DefaultName})
	if err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	srv := server.New(reg, server.Options{Logger: log})
	gs := grpc.NewServer(srv.ServerOptions()...)
	topicdv1.RegisterClassifierServiceServer(gs, srv)
	topicdv1.RegisterModelServiceServer(gs, srv)
	glis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	go gs.Serve(glis)
	defer gs.Stop()

	front, err := srv.NewHTTPFront(server.HTTPOptions{Logger: log})
	if err != nil {
		return err
	}
	defer front.Close()

	gwTCP := runtime.NewServeMux()
	if err := topicdv1.RegisterClassifierServiceHandlerFromEndpoint(context.Background(), gwTCP, glis.Addr().String(),
		[]grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}); err != nil {
		return err
	}

	vg, err := vanguardgrpc.NewTranscoder(gs)
	if err != nil {
		return err
	}

	type target struct {
		name string
		h    http.Handler
		url  string
		rate []float64
		cpu  []float64
		errs uint64
	}
	targets := []*target{{name: "gateway", h: front}, {name: "gateway-tcp", h: gwTCP}, {name: "vanguard", h: vg}}
	for _, t := range targets {
		lis, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		hs := &http.Server{Handler: t.h, ReadHeaderTimeout: 10 * time.Second}
		go hs.Serve(lis)
		defer hs.Close()
		t.url = "http://" + lis.Addr().String() + "/v1/classify"
		// Check the answer before timing: a transcoder that fails fast would look fast.
		resp, err := http.Post(t.url, "application/json", bytes.NewReader(reqBody))
		if err != nil {
			return err
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !bytes.Contains(b, []byte(`"label"`)) {
			return fmt.Errorf("%s: %d %s", t.name, resp.StatusCode, b)
		}
	}

	for r := range *rounds {
		order := slices.Clone(targets)
		if r%2 == 1 {
			slices.Reverse(order)
		}
		for _, t := range order {
			c0 := cpuTime()
			rate, calls, errs := attack(t.url, reqBody, *conc, *dur)
			us := float64((cpuTime() - c0).Microseconds()) / float64(max(calls, 1))
			t.rate = append(t.rate, rate)
			t.cpu = append(t.cpu, us)
			t.errs += errs
			fmt.Fprintf(os.Stderr, "# round %d %-12s %8.0f calls/s, %6.1f us CPU per call, %d errors\n", r+1, t.name, rate, us, errs)
		}
	}
	fmt.Printf("| transcoder | calls/s at %d callers | CPU per call (client + server) | errors |\n|---|---:|---:|---:|\n", *conc)
	for _, t := range targets {
		slices.Sort(t.rate)
		slices.Sort(t.cpu)
		fmt.Printf("| %s | %.0f | %.1f µs | %d |\n", t.name, t.rate[len(t.rate)/2], t.cpu[len(t.cpu)/2], t.errs)
	}
	fmt.Printf("\nmedians of %d runs of %s each\n", *rounds, *dur)
	return nil
}

// cpuTime is the CPU time this process has used, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// attack sends POST url with body from conc callers as fast as they are answered, for d. It
// returns calls per second, calls and calls that failed.
func attack(url string, body []byte, conc uint64, d time.Duration) (float64, uint64, uint64) {
	tr := vegeta.NewStaticTargeter(vegeta.Target{
		Method: http.MethodPost, URL: url, Body: body,
		Header: http.Header{"Content-Type": []string{"application/json"}},
	})
	a := vegeta.NewAttacker(vegeta.Workers(conc), vegeta.MaxWorkers(conc), vegeta.KeepAlive(true), vegeta.Connections(int(conc)))
	var m vegeta.Metrics
	for res := range a.Attack(tr, vegeta.Rate{}, d, "bench") {
		m.Add(res)
	}
	m.Close()
	return m.Throughput, m.Requests, m.Requests - uint64(m.StatusCodes["200"])
}
