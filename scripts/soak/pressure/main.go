// Command pressure is the hostile client of the memory bound: it opens -conns connections of
// -streams ClassifyStream calls to a topicd on loopback, sends documents with 1 KiB ids and
// explain (50 terms) on all of them and never reads an answer. Once nothing more gets through
// (flow control has pushed back everywhere) it prints the documents sent and topicd's VmRSS, and
// checks that a well-behaved stream on another connection still gets its answers.
//
//	go build -o /tmp/topicd ./cmd/topicd && /tmp/topicd --listen 127.0.0.1:50051 --http-listen= &
//	go run ./scripts/soak/pressure -addr 127.0.0.1:50051 -pid $!
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	topicdv1 "github.com/topicd/topicd/proto/topicd/v1"
)

const text = "Hackers working for a foreign intelligence agency broke into the interior ministry's network " +
	"and leaked confidential documents from talks between the two governments on asylum seekers, " +
	"deportations and border controls; the foreign minister summoned the ambassador."

func main() {
	addr := flag.String("addr", "", "topicd gRPC address (loopback)")
	pid := flag.Int("pid", 0, "topicd process id, for VmRSS")
	conns := flag.Int("conns", 3, "connections")
	streams := flag.Int("streams", 100, "non-reading streams per connection")
	window := flag.Int("window", 64<<10, "the client's HTTP/2 receive window per stream and connection; 0 lets gRPC grow it (to 16 MiB), so that the client takes answers into its own memory")
	flag.Parse()
	if err := run(*addr, *pid, *conns, *streams, *window); err != nil {
		fmt.Fprintln(os.Stderr, "pressure:", err)
		os.Exit(1)
	}
}

func run(addr string, pid, conns, streams, window int) error {
	if h, _, err := net.SplitHostPort(addr); err != nil || !net.ParseIP(h).IsLoopback() {
		return fmt.Errorf("-addr %q: give a loopback address", addr)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	fmt.Printf("before: VmRSS %s MB\n", rssMB(pid))
	id := strings.Repeat("i", 1000)
	var sent atomic.Int64
	dial := []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	if window > 0 {
		dial = append(dial, grpc.WithInitialWindowSize(int32(window)), grpc.WithInitialConnWindowSize(int32(window)))
	}
	for c := range conns {
		conn, err := grpc.NewClient(addr, dial...)
		if err != nil {
			return err
		}
		defer conn.Close()
		cls := topicdv1.NewClassifierServiceClient(conn)
		for s := range streams {
			stream, err := cls.ClassifyStream(ctx)
			if err != nil {
				return err
			}
			go func() {
				for i := 0; ; i++ {
					req := &topicdv1.ClassifyStreamRequest{
						Document: &topicdv1.Document{Id: id + strconv.Itoa(c*1_000_000+s*10_000+i), Text: text},
						Options:  &topicdv1.ClassifyOptions{Explain: true, ExplainTerms: 50},
					}
					if stream.Send(req) != nil {
						return
					}
					sent.Add(1)
				}
			}()
		}
	}
	for last := int64(-1); ; last = sent.Load() {
		time.Sleep(2 * time.Second)
		if sent.Load() == last {
			break
		}
	}
	fmt.Printf("%d non-reading streams on %d connections: %d documents sent, then pushed back; VmRSS %s MB\n",
		conns*streams, conns, sent.Load(), rssMB(pid))

	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer conn.Close()
	wctx, wcancel := context.WithTimeout(ctx, time.Minute)
	defer wcancel()
	start := time.Now()
	n, err := readingStream(wctx, topicdv1.NewClassifierServiceClient(conn), 200)
	if err != nil {
		return fmt.Errorf("a reading stream beside them: %d of 200 answers: %w", n, err)
	}
	fmt.Printf("a reading stream beside them: 200 of 200 answers in %v; VmRSS %s MB\n", time.Since(start).Round(time.Millisecond), rssMB(pid))
	return nil
}

func readingStream(ctx context.Context, cls topicdv1.ClassifierServiceClient, n int) (int, error) {
	stream, err := cls.ClassifyStream(ctx)
	if err != nil {
		return 0, err
	}
	go func() {
		for i := range n {
			if stream.Send(&topicdv1.ClassifyStreamRequest{Document: &topicdv1.Document{Id: strconv.Itoa(i), Text: text}}) != nil {
				return
			}
		}
		stream.CloseSend()
	}()
	got := 0
	for {
		if _, err := stream.Recv(); errors.Is(err, io.EOF) {
			return got, nil
		} else if err != nil {
			return got, err
		}
		got++
	}
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
