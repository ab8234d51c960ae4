// Command soakload drives a running topicd with a mixed load for a set time and samples its
// resident memory and goroutines; scripts/soak/soak.sh runs it. Every loop ends at -dur.
//
// The load, all at once:
//
//	unary        -unary goroutines calling Classify in a loop
//	batch        one goroutine calling ClassifyBatch with 100 documents
//	stream       -streams goroutines, each opening a ClassifyStream, sending 500 documents,
//	             reading every answer, and starting again
//	non-reading  every 5 s, a client on a new connection opens 20 streams that send documents with
//	             explain (50 terms) and 1 KiB ids and never read, holds them 5 s, and cancels them
//	idle         every 5 s, a TCP connection that never speaks, closed after 15 s
//	reloads      every 2 s the served model file is replaced (renamed into place, alternating two
//	             versions) and every 3 s topicd gets SIGHUP
//
// Every 5 s it prints one line: seconds, VmRSS (MB), goroutines, calls answered, item errors and
// call errors so far. Call errors other than those of the canceled non-reading streams make the
// exit status 1.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/topicd/topicd/models"
	topicdv1 "github.com/topicd/topicd/proto/topicd/v1"
)

var texts = []string{
	"Hackers working for a foreign intelligence agency broke into the interior ministry's network and leaked confidential documents.",
	"Border police intercepted a boat carrying 80 asylum seekers off the coast; the coast guard took them to a reception centre.",
	"The two foreign ministers signed a treaty in Geneva after talks on trade and the release of detained diplomats.",
	"The home side won the cup final two goals to one after extra time in front of a sold-out stadium.",
}

type stats struct {
	calls, itemErrs atomic.Int64
	mu              sync.Mutex
	errs            map[codes.Code]int
}

func (s *stats) fail(err error) {
	s.mu.Lock()
	s.errs[status.Code(err)]++
	s.mu.Unlock()
}

func (s *stats) errors() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var parts []string
	for c, n := range s.errs {
		parts = append(parts, fmt.Sprintf("%s=%d", c, n))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ",")
}

func main() {
	addr := flag.String("addr", "", "topicd gRPC address (loopback)")
	metrics := flag.String("metrics", "", "topicd metrics address")
	pid := flag.Int("pid", 0, "topicd process id, for SIGHUP and VmRSS")
	dir := flag.String("model-dir", "", "topicd's --model-dir; the load rewrites soak.model in it")
	dur := flag.Duration("dur", 5*time.Minute, "how long to run")
	unary := flag.Int("unary", 4, "goroutines calling Classify")
	streams := flag.Int("streams", 2, "goroutines running ClassifyStream")
	flag.Parse()
	if err := run(*addr, *metrics, *pid, *dir, *dur, *unary, *streams); err != nil {
		fmt.Fprintln(os.Stderr, "soakload:", err)
		os.Exit(1)
	}
}

func run(addr, metricsAddr string, pid int, dir string, dur time.Duration, unary, streams int) error {
	if h, _, err := net.SplitHostPort(addr); err != nil || !net.ParseIP(h).IsLoopback() {
		return fmt.Errorf("-addr %q: give a loopback address", addr)
	}
	// Loops stop at the deadline; calls run on a context without it, so the last calls end as
	// they would have (a deadline would race the server's own deadline-exceeded answer).
	ctx, cancel := context.WithTimeout(context.Background(), dur)
	defer cancel()
	calls, stopCalls := context.WithCancel(context.Background())
	defer stopCalls()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer conn.Close()
	cls := topicdv1.NewClassifierServiceClient(conn)
	st := &stats{errs: map[codes.Code]int{}}
	versions, err := modelVersions()
	if err != nil {
		return err
	}

	var wg sync.WaitGroup
	loop := func(every time.Duration, fn func(i int)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				fn(i)
				if every > 0 {
					select {
					case <-ctx.Done():
					case <-time.After(every):
					}
				}
			}
		}()
	}
	ok := func(err error) {
		if err != nil {
			st.fail(err)
		}
	}
	for g := range unary {
		loop(0, func(i int) {
			_, err := cls.Classify(calls, &topicdv1.ClassifyRequest{Document: &topicdv1.Document{Text: texts[(g+i)%len(texts)]}})
			ok(err)
			if err == nil {
				st.calls.Add(1)
			}
		})
	}
	loop(0, func(i int) {
		docs := make([]*topicdv1.Document, 100)
		for j := range docs {
			docs[j] = &topicdv1.Document{Id: strconv.Itoa(j), Text: texts[j%len(texts)]}
		}
		resp, err := cls.ClassifyBatch(calls, &topicdv1.ClassifyBatchRequest{Documents: docs})
		ok(err)
		if err == nil {
			st.calls.Add(1)
			for _, r := range resp.Results {
				if r.GetError() != nil {
					st.itemErrs.Add(1)
				}
			}
		}
	})
	for range streams {
		loop(0, func(i int) { ok(streamOnce(calls, cls, st)) })
	}
	loop(5*time.Second, func(i int) { nonReading(calls, addr) })
	loop(5*time.Second, func(i int) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return
		}
		go func() {
			select {
			case <-ctx.Done():
			case <-time.After(15 * time.Second):
			}
			c.Close()
		}()
	})
	if dir != "" {
		loop(2*time.Second, func(i int) {
			tmp := filepath.Join(dir, ".soak.tmp")
			if os.WriteFile(tmp, versions[i%2], 0o644) == nil {
				os.Rename(tmp, filepath.Join(dir, "soak.model"))
			}
		})
	}
	if pid > 0 {
		loop(3*time.Second, func(i int) {
			if i > 0 {
				syscall.Kill(pid, syscall.SIGHUP)
			}
		})
	}

	start := time.Now()
	fmt.Println("seconds rss_mb goroutines calls item_errors call_errors")
	sample := func() {
		fmt.Printf("%.0f %s %s %d %d %s\n", time.Since(start).Seconds(), rssMB(pid), goroutines(metricsAddr),
			st.calls.Load(), st.itemErrs.Load(), st.errors())
	}
	sample()
	for t := time.NewTicker(5 * time.Second); ctx.Err() == nil; {
		select {
		case <-ctx.Done():
		case <-t.C:
			sample()
		}
	}
	wg.Wait()
	sample()
	if e := st.errors(); e != "none" || st.itemErrs.Load() != 0 {
		return fmt.Errorf("errors during the soak: calls %s, batch items %d", e, st.itemErrs.Load())
	}
	return nil
}

// streamOnce sends 500 documents on one stream and reads every answer.
func streamOnce(ctx context.Context, cls topicdv1.ClassifierServiceClient, st *stats) error {
	stream, err := cls.ClassifyStream(ctx)
	if err != nil {
		return err
	}
	sendErr := make(chan error, 1)
	go func() {
		for i := range 500 {
			if err := stream.Send(&topicdv1.ClassifyStreamRequest{Document: &topicdv1.Document{Id: strconv.Itoa(i), Text: texts[i%len(texts)]}}); err != nil {
				sendErr <- err
				return
			}
		}
		sendErr <- stream.CloseSend()
	}()
	n := 0
	for {
		r, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		if r.GetError() != nil {
			st.itemErrs.Add(1)
		}
		n++
	}
	st.calls.Add(1)
	if n != 500 {
		return status.Errorf(codes.DataLoss, "stream answered %d of 500 documents", n)
	}
	return <-sendErr
}

// nonReading opens 20 streams on a connection of their own that send large-answer documents
// and never read, holds them 5 s and cancels them.
func nonReading(ctx context.Context, addr string) {
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return
	}
	defer conn.Close()
	cls := topicdv1.NewClassifierServiceClient(conn)
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	id := strings.Repeat("i", 1000)
	var wg sync.WaitGroup
	for range 20 {
		stream, err := cls.ClassifyStream(sctx)
		if err != nil {
			return
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; sctx.Err() == nil; i++ {
				req := &topicdv1.ClassifyStreamRequest{
					Document: &topicdv1.Document{Id: id + strconv.Itoa(i), Text: texts[i%len(texts)]},
					Options:  &topicdv1.ClassifyOptions{Explain: true, ExplainTerms: 50},
				}
				if stream.Send(req) != nil {
					return
				}
			}
		}()
	}
	<-sctx.Done()
	wg.Wait()
}

// modelVersions returns two model files with different versions: the default model and the
// same with its calibration temperature 1 % higher.
func modelVersions() ([2][]byte, error) {
	m, err := models.Default()
	if err != nil {
		return [2][]byte{}, err
	}
	c := m.Calibration()
	c.Temperature = max(c.Temperature, 1) * 1.01
	m2, err := m.WithCalibration(c)
	if err != nil {
		return [2][]byte{}, err
	}
	b, err := m2.MarshalBinary()
	if err != nil {
		return [2][]byte{}, err
	}
	return [2][]byte{models.DefaultModelFile(), b}, nil
}

func rssMB(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return "?"
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return fmt.Sprintf("%.1f", kb/1024)
		}
	}
	return "?"
}

func goroutines(metricsAddr string) string {
	if metricsAddr == "" {
		return "?"
	}
	resp, err := http.Get("http://" + metricsAddr + "/metrics")
	if err != nil {
		return "?"
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "go_goroutines "); ok {
			return v
		}
	}
	return "?"
}
