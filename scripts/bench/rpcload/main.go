// Command rpcload drives a running topicd with one of three calls and prints the documents per
// second it got through, as one JSON line. scripts/bench/rpc.sh uses it so that unary Classify,
// the do-nothing Floor call and ClassifyStream are measured by the same client code, on one
// connection, at the same concurrency: only the call differs.
//
// Modes:
//
//	classify  -c goroutines, each calling Classify in a loop (one call in flight each)
//	floor     the same with topicd.bench.v1.FloorService/Floor (topicd --bench-floor)
//	stream    -c ClassifyStream streams, each with a sender and a receiver goroutine and at most
//	          -inflight documents sent and not yet answered (the server's --stream-window is 64)
//
// The request comes from -data: a JSON ClassifyRequest, or an array of them used in turn.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/encoding/protojson"

	benchv1 "github.com/topicd/topicd/proto/topicd/bench/v1"
	topicdv1 "github.com/topicd/topicd/proto/topicd/v1"
)

// counter is one worker's count on its own cache line, so counting does not make the workers
// contend with each other.
type counter struct {
	docs, errs atomic.Int64
	_          [48]byte
}

type result struct {
	Mode        string  `json:"mode"`
	Concurrency int     `json:"concurrency"`
	Inflight    int     `json:"inflight,omitempty"`
	Seconds     float64 `json:"seconds"`
	Docs        int64   `json:"docs"`
	DocsPerS    float64 `json:"docs_per_s"`
	Errors      int64   `json:"errors"`
	FirstError  string  `json:"first_error,omitempty"`
}

func main() {
	addr := flag.String("addr", "127.0.0.1:50051", "topicd `address`")
	mode := flag.String("mode", "classify", "classify, floor or stream")
	conc := flag.Int("c", 1, "concurrent callers (classify, floor) or streams (stream), all on one connection")
	dur := flag.Duration("d", 5*time.Second, "how long to measure")
	warm := flag.Duration("warmup", time.Second, "load before measuring, not counted")
	inflight := flag.Int("inflight", 64, "stream mode: most documents per stream sent and not yet answered")
	data := flag.String("data", "", "JSON `file` with a ClassifyRequest or an array of them")
	flag.Parse()
	if err := run(*addr, *mode, *conc, *dur, *warm, *inflight, *data); err != nil {
		fmt.Fprintln(os.Stderr, "rpcload:", err)
		os.Exit(1)
	}
}

func run(addr, mode string, conc int, dur, warm time.Duration, inflight int, dataFile string) error {
	if conc < 1 || inflight < 1 {
		return errors.New("-c and -inflight must be at least 1")
	}
	reqs, err := readRequests(dataFile)
	if err != nil {
		return err
	}
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer conn.Close()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	counters := make([]counter, conc)
	var firstErr atomic.Value
	fail := func(c *counter, err error) {
		if ctx.Err() != nil {
			return // the run is over; calls cut by the end are not errors
		}
		c.errs.Add(1)
		firstErr.CompareAndSwap(nil, err.Error())
	}
	var wg sync.WaitGroup
	for w := range conc {
		c := &counters[w]
		wg.Add(1)
		switch mode {
		case "classify":
			cl := topicdv1.NewClassifierServiceClient(conn)
			go func() {
				defer wg.Done()
				for i := w; ctx.Err() == nil; i++ {
					if _, err := cl.Classify(ctx, reqs[i%len(reqs)]); err != nil {
						fail(c, err)
						continue
					}
					c.docs.Add(1)
				}
			}()
		case "floor":
			cl := benchv1.NewFloorServiceClient(conn)
			freqs := make([]*benchv1.FloorRequest, len(reqs))
			for i, r := range reqs {
				freqs[i] = &benchv1.FloorRequest{Request: r}
			}
			go func() {
				defer wg.Done()
				for i := w; ctx.Err() == nil; i++ {
					if _, err := cl.Floor(ctx, freqs[i%len(freqs)]); err != nil {
						fail(c, err)
						continue
					}
					c.docs.Add(1)
				}
			}()
		case "stream":
			sreqs := make([]*topicdv1.ClassifyStreamRequest, len(reqs))
			for i, r := range reqs {
				sreqs[i] = &topicdv1.ClassifyStreamRequest{Document: r.Document, Model: r.Model, Options: r.Options}
			}
			go func() {
				defer wg.Done()
				if err := stream(ctx, topicdv1.NewClassifierServiceClient(conn), sreqs, inflight, c); err != nil {
					fail(c, err)
				}
			}()
		default:
			wg.Done()
			return fmt.Errorf("unknown -mode %q: want classify, floor or stream", mode)
		}
	}

	time.Sleep(warm)
	total := func() (docs, errs int64) {
		for i := range counters {
			docs += counters[i].docs.Load()
			errs += counters[i].errs.Load()
		}
		return docs, errs
	}
	d0, e0 := total()
	t0 := time.Now()
	time.Sleep(dur)
	d1, e1 := total()
	secs := time.Since(t0).Seconds()
	cancel()
	wg.Wait()

	res := result{Mode: mode, Concurrency: conc, Seconds: secs, Docs: d1 - d0, DocsPerS: float64(d1-d0) / secs, Errors: e1 - e0}
	if mode == "stream" {
		res.Inflight = inflight
	}
	if s, ok := firstErr.Load().(string); ok {
		res.FirstError = s
	}
	return json.NewEncoder(os.Stdout).Encode(res)
}

// stream sends reqs round and round on one ClassifyStream until ctx ends, keeping at most
// inflight documents unanswered, and counts the answers in c.
func stream(ctx context.Context, cl topicdv1.ClassifierServiceClient, reqs []*topicdv1.ClassifyStreamRequest, inflight int, c *counter) error {
	st, err := cl.ClassifyStream(ctx)
	if err != nil {
		return err
	}
	tokens := make(chan struct{}, inflight)
	sendErr := make(chan error, 1)
	go func() {
		for i := 0; ; i++ {
			select {
			case tokens <- struct{}{}:
			case <-ctx.Done():
				sendErr <- nil
				return
			}
			if err := st.Send(reqs[i%len(reqs)]); err != nil {
				sendErr <- err
				return
			}
		}
	}()
	for {
		resp, err := st.Recv()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			select {
			case serr := <-sendErr:
				if serr != nil {
					return serr // the cause; Recv only reports that the stream broke
				}
			default:
			}
			return err
		}
		<-tokens
		if e := resp.GetError(); e != nil {
			c.errs.Add(1)
			continue
		}
		c.docs.Add(1)
	}
}

func readRequests(file string) ([]*topicdv1.ClassifyRequest, error) {
	if file == "" {
		return nil, errors.New("-data is required")
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var raws []json.RawMessage
	if strings.HasPrefix(strings.TrimSpace(string(b)), "[") {
		if err := json.Unmarshal(b, &raws); err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
	} else {
		raws = []json.RawMessage{b}
	}
	reqs := make([]*topicdv1.ClassifyRequest, len(raws))
	for i, r := range raws {
		reqs[i] = new(topicdv1.ClassifyRequest)
		if err := protojson.Unmarshal(r, reqs[i]); err != nil {
			return nil, fmt.Errorf("%s: request %d: %w", file, i, err)
		}
	}
	if len(reqs) == 0 {
		return nil, fmt.Errorf("%s: no request", file)
	}
	return reqs, nil
}
